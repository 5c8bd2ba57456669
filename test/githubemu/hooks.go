package githubemu

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// webhook is a repository webhook: GitHub POSTs each event to url, signed
// with secret (X-Hub-Signature-256).
type webhook struct {
	url, secret string
}

// Delivery is one webhook delivery the emulator made, for tests.
type Delivery struct {
	Event  string
	Status int // the receiver's HTTP status; 0 when it could not be reached
}

// hookSender delivers webhook events one at a time, in the order they
// happened, after the request that caused them (GitHub delivers
// asynchronously, shortly after).
type hookSender struct {
	queue      chan hookEvent
	mu         sync.Mutex
	deliveries []Delivery
}

type hookEvent struct {
	hook  webhook
	event string
	id    int64
	body  []byte
}

// AddWebhook adds a webhook to a repository for every event, as a
// repository admin does in its settings (content type application/json).
func (s *Server) AddWebhook(owner, repo, url, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRepo(owner, repo)
	if err != nil {
		return err
	}
	r.hooks = append(r.hooks, webhook{url: url, secret: secret})
	if s.sender == nil {
		s.sender = &hookSender{queue: make(chan hookEvent, 1024)}
		go s.sender.run()
	}
	return nil
}

// Deliveries lists the webhook deliveries made so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	sender := s.sender
	s.mu.Unlock()
	if sender == nil {
		return nil
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	return append([]Delivery(nil), sender.deliveries...)
}

// deliver queues event for the repository's webhooks. Called with s.mu held.
func (s *Server) deliver(r *repoState, event string, payload map[string]any) {
	if len(r.hooks) == 0 || s.sender == nil {
		return
	}
	payload["repository"] = map[string]any{
		"id": r.id, "name": r.name, "full_name": r.owner + "/" + r.name, "owner": map[string]any{"login": r.owner},
	}
	payload["sender"] = map[string]any{"login": s.opts.Login}
	body, err := json.Marshal(payload)
	if err != nil {
		s.logf("githubemu: webhook payload: %v", err)
		return
	}
	for _, h := range r.hooks {
		select {
		case s.sender.queue <- hookEvent{hook: h, event: event, id: s.nextID(), body: body}:
		default:
			s.logf("githubemu: webhook queue full, %s event dropped", event)
		}
	}
}

func (h *hookSender) run() {
	client := &http.Client{Timeout: 10 * time.Second}
	for ev := range h.queue {
		mac := hmac.New(sha256.New, []byte(ev.hook.secret))
		mac.Write(ev.body)
		req, err := http.NewRequest(http.MethodPost, ev.hook.url, bytes.NewReader(ev.body))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "GitHub-Hookshot/githubemu")
		req.Header.Set("X-GitHub-Event", ev.event)
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("emu-%d", ev.id))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		status := 0
		if resp, err := client.Do(req); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		h.mu.Lock()
		h.deliveries = append(h.deliveries, Delivery{Event: ev.event, Status: status})
		h.mu.Unlock()
	}
}

// pullPayload is the pull request part of an event's payload.
func pullPayload(p *pull) map[string]any {
	return map[string]any{
		"number": p.number, "state": p.state, "merged": p.merged,
		"head": map[string]any{"ref": p.headRef, "sha": p.headSHA},
		"base": map[string]any{"ref": p.baseRef, "sha": p.baseSHA},
	}
}

func (s *Server) deliverPull(r *repoState, p *pull, action string) {
	s.deliver(r, "pull_request", map[string]any{"action": action, "number": p.number, "pull_request": pullPayload(p)})
}
