package refinery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
)

// ErrBadSignature: a webhook delivery without a valid HMAC SHA-256
// signature of its body.
var ErrBadSignature = errors.New("webhook signature missing or wrong")

// MaxWebhookBytes bounds a webhook body; GitHub caps payloads at 25 MB.
const MaxWebhookBytes = 25 << 20

// Webhook is one verified GitHub webhook delivery, with what it says
// changed.
type Webhook struct {
	// Event is the X-GitHub-Event header: pull_request, status, push, ...
	Event string
	// Delivery is the X-GitHub-Delivery ID.
	Delivery string
	// Repository is the owner/name the event is about.
	Repository string
	// Action is the event's action: opened, synchronize, submitted, ...
	Action string
	// PullRequest is the number of the pull request a pull_request or
	// pull_request_review event is about.
	PullRequest int
	// SHA is the commit a status, check_run or check_suite event is about.
	SHA string
	// Ref is the reference a push moved, e.g. refs/heads/main.
	Ref string
}

// ReadWebhook reads one delivery and verifies its X-Hub-Signature-256
// (HMAC SHA-256 of the body with secret, compared in constant time by
// go-github). The older SHA-1 signature is not accepted.
func ReadWebhook(r *http.Request, secret []byte) (*Webhook, error) {
	signature := r.Header.Get(github.SHA256SignatureHeader)
	if len(secret) == 0 || !strings.HasPrefix(signature, "sha256=") {
		return nil, ErrBadSignature
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the webhook body: %w", err)
	}
	if len(body) > MaxWebhookBytes {
		return nil, fmt.Errorf("webhook body larger than %d bytes", MaxWebhookBytes)
	}
	if err := github.ValidateSignature(signature, body, secret); err != nil {
		return nil, ErrBadSignature
	}
	var payload struct {
		Action     string `json:"action"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
		PullRequest struct {
			Number int `json:"number"`
		} `json:"pull_request"`
		SHA      string `json:"sha"`
		CheckRun struct {
			HeadSHA string `json:"head_sha"`
		} `json:"check_run"`
		CheckSuite struct {
			HeadSHA string `json:"head_sha"`
		} `json:"check_suite"`
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, fmt.Errorf("webhook body is not JSON: %w", err)
	}
	w := &Webhook{
		Event: github.WebHookType(r), Delivery: github.DeliveryID(r), Repository: payload.Repository.FullName,
		Action: payload.Action, PullRequest: payload.PullRequest.Number, Ref: payload.Ref,
	}
	switch w.Event {
	case "status":
		w.SHA = payload.SHA
	case "check_run":
		w.SHA = payload.CheckRun.HeadSHA
	case "check_suite":
		w.SHA = payload.CheckSuite.HeadSHA
	}
	return w, nil
}

// Wakes says whether the event can change what the Refinery's queue waits
// for: a pull request's head, state or base, its reviews or checks, or a
// branch moved. The pull request actions that change none of these (most
// of them the Refinery's own: opened, labeled, review_requested) do not.
func (w *Webhook) Wakes() bool {
	switch w.Event {
	case "pull_request":
		switch w.Action {
		case "synchronize", "closed", "reopened", "edited", "ready_for_review", "converted_to_draft":
			return true
		}
		return false
	case "pull_request_review", "status", "check_run", "check_suite", "push":
		return true
	}
	return false
}
