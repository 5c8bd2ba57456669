package refinery

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func delivery(event, body, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/github/ns/name", bytes.NewReader([]byte(body)))
	r.Header.Set("X-GitHub-Event", event)
	r.Header.Set("X-GitHub-Delivery", "d-1")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	r.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return r
}

func TestReadWebhookSaysWhatChanged(t *testing.T) {
	repo := `"repository":{"full_name":"org/app"}`
	for _, tc := range []struct {
		event, body string
		want        Webhook
		wakes       bool
	}{
		{"pull_request", `{"action":"synchronize","number":4,"pull_request":{"number":4},` + repo + `}`,
			Webhook{Action: "synchronize", PullRequest: 4}, true},
		{"pull_request", `{"action":"labeled","number":4,"pull_request":{"number":4},` + repo + `}`,
			Webhook{Action: "labeled", PullRequest: 4}, false},
		{"pull_request_review", `{"action":"submitted","pull_request":{"number":5},` + repo + `}`,
			Webhook{Action: "submitted", PullRequest: 5}, true},
		{"status", `{"sha":"abc","state":"success",` + repo + `}`, Webhook{SHA: "abc"}, true},
		{"check_run", `{"action":"completed","check_run":{"head_sha":"def"},` + repo + `}`,
			Webhook{Action: "completed", SHA: "def"}, true},
		{"check_suite", `{"action":"completed","check_suite":{"head_sha":"fed"},` + repo + `}`,
			Webhook{Action: "completed", SHA: "fed"}, true},
		{"push", `{"ref":"refs/heads/main",` + repo + `}`, Webhook{Ref: "refs/heads/main"}, true},
		{"ping", `{"zen":"Keep it logically awesome.",` + repo + `}`, Webhook{}, false},
	} {
		got, err := ReadWebhook(delivery(tc.event, tc.body, "s3cret"), []byte("s3cret"))
		if err != nil {
			t.Fatalf("%s: %v", tc.event, err)
		}
		tc.want.Event, tc.want.Delivery, tc.want.Repository = tc.event, "d-1", "org/app"
		if *got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.event, *got, tc.want)
		}
		if got.Wakes() != tc.wakes {
			t.Errorf("%s %s: Wakes() = %v", tc.event, tc.want.Action, got.Wakes())
		}
	}
	if _, err := ReadWebhook(delivery("push", `{}`, "other"), []byte("s3cret")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another secret's signature: %v", err)
	}
}
