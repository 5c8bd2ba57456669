package controller

import (
	"errors"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
	"github.com/boshu2/gastown-operator/internal/refinery"
)

// WebhookPathPrefix is where GitHub delivers a Refinery's webhook:
// /hooks/github/<namespace>/<name>.
const WebhookPathPrefix = "/hooks/github/"

// RefineryWebhookReceiver takes GitHub's webhook deliveries for the
// Refineries that have spec.github.webhookSecretRef, verifies each with
// its Refinery's secret and wakes that Refinery, and no other.
type RefineryWebhookReceiver struct {
	// Client reads Refineries (cached) and their secrets (GETs).
	Client client.Client
	// Wake is the Refinery controller's channel (RefineryReconciler.Wake).
	Wake chan<- event.GenericEvent
	// Observe, when set, is told of each verified delivery before the
	// Refinery is woken (RefineryReconciler.Observe).
	Observe func(types.NamespacedName, *refinery.Webhook)
}

// ServeHTTP answers one delivery: 401 for a bad or missing signature, 404
// for a path that names no Refinery with a webhook, 202 for a verified
// event (whether or not it wakes the queue).
func (h *RefineryWebhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := ctrl.Log.WithName("webhook")
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	ns, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, WebhookPathPrefix), "/")
	if !strings.HasPrefix(r.URL.Path, WebhookPathPrefix) || !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		gsmetrics.Webhook("", gsmetrics.WebhookUnknown)
		http.NotFound(w, r)
		return
	}
	ref := &gastownv1.Refinery{}
	err := h.Client.Get(r.Context(), types.NamespacedName{Namespace: ns, Name: name}, ref)
	if err != nil || ref.Spec.GitHub == nil || ref.Spec.GitHub.WebhookSecretRef == nil {
		if err != nil && !apierrors.IsNotFound(err) {
			log.Error(err, "reading the refinery of a webhook", "refinery", ns+"/"+name)
			http.Error(w, "cannot read the refinery", http.StatusServiceUnavailable)
			return
		}
		gsmetrics.Webhook("", gsmetrics.WebhookUnknown)
		http.NotFound(w, r)
		return
	}
	secret, err := h.secret(r, ref)
	if err != nil {
		log.Error(err, "reading the webhook secret", "refinery", ns+"/"+name)
		http.Error(w, "cannot read the webhook secret", http.StatusServiceUnavailable)
		return
	}
	hook, err := refinery.ReadWebhook(r, secret)
	switch {
	case errors.Is(err, refinery.ErrBadSignature):
		gsmetrics.Webhook(ref.Spec.RigRef, gsmetrics.WebhookBadSignature)
		log.Info("refused a webhook delivery with a bad signature", "refinery", ns+"/"+name, "delivery", r.Header.Get("X-GitHub-Delivery"))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	case err != nil:
		gsmetrics.Webhook(ref.Spec.RigRef, gsmetrics.WebhookInvalid)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if h.Observe != nil {
		h.Observe(types.NamespacedName{Namespace: ns, Name: name}, hook)
	}
	if !hook.Wakes() {
		gsmetrics.Webhook(ref.Spec.RigRef, gsmetrics.WebhookIgnored)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	gsmetrics.Webhook(ref.Spec.RigRef, gsmetrics.WebhookAccepted)
	log.V(1).Info("webhook wakes the refinery", "refinery", ns+"/"+name, "event", hook.Event, "delivery", hook.Delivery)
	h.Wake <- event.GenericEvent{Object: &gastownv1.Refinery{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}
	w.WriteHeader(http.StatusAccepted)
}

// secret reads the Refinery's webhook secret with a GET: the operator
// does not cache Secrets.
func (h *RefineryWebhookReceiver) secret(r *http.Request, ref *gastownv1.Refinery) ([]byte, error) {
	sel := ref.Spec.GitHub.WebhookSecretRef
	key := sel.Key
	if key == "" {
		key = gastownv1.DefaultWebhookSecretKey
	}
	s := &corev1.Secret{}
	if err := h.Client.Get(r.Context(), types.NamespacedName{Namespace: ref.Namespace, Name: sel.Name}, s); err != nil {
		return nil, err
	}
	return s.Data[key], nil
}
