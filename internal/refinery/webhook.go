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

// Webhook is one verified GitHub webhook delivery.
type Webhook struct {
	// Event is the X-GitHub-Event header: pull_request, status, push, ...
	Event string
	// Delivery is the X-GitHub-Delivery ID.
	Delivery string
	// Repository is the owner/name the event is about.
	Repository string
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
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, fmt.Errorf("webhook body is not JSON: %w", err)
	}
	return &Webhook{Event: github.WebHookType(r), Delivery: github.DeliveryID(r), Repository: payload.Repository.FullName}, nil
}

// Wakes says whether the event can change what the Refinery's queue waits
// for: a pull request, its reviews or checks, or the target branch moved.
func (w *Webhook) Wakes() bool {
	switch w.Event {
	case "pull_request", "pull_request_review", "status", "check_run", "check_suite", "push":
		return true
	}
	return false
}
