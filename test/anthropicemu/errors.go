package anthropicemu

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// apiError is an error response in the API's terms: an HTTP status, the
// error type the body names, and its message.
type apiError struct {
	status  int
	typ     string
	message string
	// retryAfter, when positive, is sent as the retry-after header in
	// whole seconds (rounded up), as the API does on 429 and 529.
	retryAfter time.Duration
}

// errorTypes are the API's error types by status code.
var errorTypes = map[int]string{
	http.StatusBadRequest:            "invalid_request_error",
	http.StatusUnauthorized:          "authentication_error",
	http.StatusPaymentRequired:       "billing_error",
	http.StatusForbidden:             "permission_error",
	http.StatusNotFound:              "not_found_error",
	http.StatusRequestEntityTooLarge: "request_too_large",
	http.StatusTooManyRequests:       "rate_limit_error",
	http.StatusInternalServerError:   "api_error",
	http.StatusGatewayTimeout:        "timeout_error",
	StatusOverloaded:                 "overloaded_error",
}

// StatusOverloaded is the API's own status for overload, which net/http
// has no name for.
const StatusOverloaded = 529

// errorMessages are the messages the API sends with the errors the
// emulator makes up itself.
var errorMessages = map[int]string{
	http.StatusBadRequest:          "Invalid request",
	http.StatusNotFound:            "Not Found",
	http.StatusTooManyRequests:     "This request would exceed your organization's rate limit. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
	http.StatusInternalServerError: "Internal server error",
	http.StatusGatewayTimeout:      "Request timed out",
	StatusOverloaded:               "Overloaded",
}

// errorFor is the API's error for a status, with its usual message. A
// status the API does not use becomes an api_error.
func errorFor(status int) apiError {
	typ, ok := errorTypes[status]
	if !ok {
		typ = "api_error"
	}
	msg, ok := errorMessages[status]
	if !ok {
		msg = http.StatusText(status)
	}
	return apiError{status: status, typ: typ, message: msg}
}

func invalidRequest(msg string) apiError {
	return apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: msg}
}

func notFound() apiError { return errorFor(http.StatusNotFound) }

// body is the JSON error document, naming the request like the API does.
func (e apiError) body(requestID string) []byte {
	var b errorBody
	b.Type = "error"
	b.Error.Type = e.typ
	b.Error.Message = e.message
	b.RequestID = requestID
	return encode(b)
}

// write sends the error. The request's common headers are already set.
func (e apiError) write(w http.ResponseWriter, requestID string) {
	h := w.Header()
	if e.retryAfter > 0 {
		h.Set("retry-after", strconv.Itoa(int(math.Ceil(e.retryAfter.Seconds()))))
	}
	// The API tells its SDKs whether an error is worth retrying; the
	// CLIs' retry logic reads it before the status.
	h.Set("x-should-retry", strconv.FormatBool(e.retryable()))
	body := e.body(requestID)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

func (e apiError) retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status == http.StatusRequestTimeout ||
		e.status == http.StatusConflict || e.status >= http.StatusInternalServerError
}
