package githubemu

import (
	"net/http"
	"slices"
)

var (
	statusStates     = []string{"error", "failure", "pending", "success"}
	checkStatuses    = []string{"queued", "in_progress", "completed"}
	checkConclusions = []string{"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
)

func (s *Server) createStatus(c *call) response {
	var req createStatusRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	st, resp, ok := s.addStatus(c.repo, c.params["sha"], req, s.opts.Login)
	if !ok {
		return resp
	}
	return reply(http.StatusCreated, renderStatus(st))
}

// addStatus records a commit status. It shares the API's validation with
// the test helper SetStatus.
func (s *Server) addStatus(r *repoState, sha string, req createStatusRequest, creator string) (*commitStatus, response, bool) {
	if !slices.Contains(statusStates, req.State) {
		return nil, validationFailed(errorDetailJSON{Resource: "Status", Field: "state", Code: "invalid"}), false
	}
	if _, ok, err := r.git.resolve(sha); err != nil {
		return nil, internalError(err), false
	} else if !ok || len(sha) != 40 {
		return nil, customValidation("Status", "No commit found for SHA: %s", sha), false
	}
	if req.Context == "" {
		req.Context = "default"
	}
	st := &commitStatus{
		id: s.nextID(), sha: sha, context: req.Context, state: req.State,
		description: req.Description, targetURL: req.TargetURL, creator: creator, createdAt: now(),
	}
	r.statuses = append(r.statuses, st)
	s.deliver(r, "status", map[string]any{"id": st.id, "sha": sha, "context": st.context, "state": st.state})
	return st, response{}, true
}

// getCombinedStatus reports the latest status of each context for a ref and
// their combined state: failure if any failed, pending if any is pending or
// none was reported, success otherwise.
func (s *Server) getCombinedStatus(c *call) response {
	sha, ok, err := c.repo.git.resolve(c.params["ref"])
	if err != nil {
		return internalError(err)
	}
	if !ok {
		return notFound()
	}
	latest := map[string]*commitStatus{}
	var order []string
	for _, st := range c.repo.statuses {
		if st.sha != sha {
			continue
		}
		if _, seen := latest[st.context]; !seen {
			order = append(order, st.context)
		}
		latest[st.context] = st
	}
	combined := combineStates(order, latest)
	out := combinedStatusJSON{
		State:      combined,
		SHA:        sha,
		TotalCount: len(order),
		Statuses:   []statusJSON{},
		CommitURL:  s.http.URL + urlPath("repos", c.repo.owner, c.repo.name, "commits", sha),
	}
	for _, ctx := range order {
		out.Statuses = append(out.Statuses, renderStatus(latest[ctx]))
	}
	return reply(http.StatusOK, out)
}

func combineStates(order []string, latest map[string]*commitStatus) string {
	if len(order) == 0 {
		return "pending"
	}
	state := "success"
	for _, ctx := range order {
		switch latest[ctx].state {
		case "error", "failure":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

func renderStatus(st *commitStatus) statusJSON {
	return statusJSON{
		ID: st.id, State: st.state, Context: st.context, Description: st.description,
		TargetURL: st.targetURL, Creator: user(st.creator), CreatedAt: st.createdAt, UpdatedAt: st.createdAt,
	}
}

func (s *Server) createCheckRun(c *call) response {
	var req createCheckRunRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	run, resp, ok := s.addCheckRun(c.repo, req)
	if !ok {
		return resp
	}
	return reply(http.StatusCreated, renderCheckRun(run))
}

// addCheckRun records a check run. A conclusion completes it; a completed
// run needs one.
func (s *Server) addCheckRun(r *repoState, req createCheckRunRequest) (*checkRun, response, bool) {
	if req.Status == "" {
		req.Status = "queued"
		if req.Conclusion != "" {
			req.Status = "completed"
		}
	}
	switch {
	case req.Name == "":
		return nil, validationFailed(errorDetailJSON{Resource: "CheckRun", Field: "name", Code: "missing_field"}), false
	case !slices.Contains(checkStatuses, req.Status):
		return nil, validationFailed(errorDetailJSON{Resource: "CheckRun", Field: "status", Code: "invalid"}), false
	case req.Conclusion != "" && !slices.Contains(checkConclusions, req.Conclusion),
		req.Status == "completed" && req.Conclusion == "":
		return nil, validationFailed(errorDetailJSON{Resource: "CheckRun", Field: "conclusion", Code: "invalid"}), false
	}
	if _, ok, err := r.git.resolve(req.HeadSHA); err != nil {
		return nil, internalError(err), false
	} else if !ok || len(req.HeadSHA) != 40 {
		return nil, validationFailed(errorDetailJSON{Resource: "CheckRun", Field: "head_sha", Code: "invalid"}), false
	}
	t := now()
	run := &checkRun{
		id: s.nextID(), sha: req.HeadSHA, name: req.Name, status: req.Status,
		conclusion: req.Conclusion, detailsURL: req.DetailsURL, startedAt: t,
	}
	if req.Status == "completed" {
		run.completedAt = t
	}
	r.checkRuns = append(r.checkRuns, run)
	action := "created"
	if run.status == "completed" {
		action = "completed"
	}
	s.deliver(r, "check_run", map[string]any{"action": action, "check_run": map[string]any{
		"id": run.id, "head_sha": run.sha, "name": run.name, "status": run.status, "conclusion": run.conclusion}})
	return run, response{}, true
}

// listCheckRuns lists the check runs of a ref, newest first; by default
// (filter=latest) only the newest run of each name, as GitHub does.
func (s *Server) listCheckRuns(c *call) response {
	sha, ok, err := c.repo.git.resolve(c.params["ref"])
	if err != nil {
		return internalError(err)
	}
	if !ok {
		return notFound()
	}
	q := c.r.URL.Query()
	latestOnly := q.Get("filter") != "all"
	seen := map[string]bool{}
	runs := []checkRunJSON{}
	for i := len(c.repo.checkRuns) - 1; i >= 0; i-- {
		run := c.repo.checkRuns[i]
		if run.sha != sha || (latestOnly && seen[run.name]) {
			continue
		}
		seen[run.name] = true
		if name := q.Get("check_name"); name != "" && run.name != name {
			continue
		}
		if status := q.Get("status"); status != "" && run.status != status {
			continue
		}
		runs = append(runs, renderCheckRun(run))
	}
	page, h := paginate(c, runs)
	return response{status: http.StatusOK, body: checkRunsJSON{TotalCount: len(runs), CheckRuns: page}, header: h}
}

func renderCheckRun(run *checkRun) checkRunJSON {
	out := checkRunJSON{
		ID: run.id, HeadSHA: run.sha, Name: run.name, Status: run.status,
		StartedAt: run.startedAt, DetailsURL: run.detailsURL,
	}
	if run.conclusion != "" {
		conclusion := run.conclusion
		out.Conclusion = &conclusion
	}
	if !run.completedAt.IsZero() {
		completed := run.completedAt
		out.CompletedAt = &completed
	}
	return out
}
