package refinery

import (
	"bytes"
	"container/list"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// The GitHub provider's HTTP stack, outermost first:
//
//	go-github (auth header) → etagCache → retryablehttp → callCounter → metrics → base transport
//
// The ETag cache sits above the retries so that a revalidation that needed a
// retry is still answered from the cache, and the counter sits below them so
// that it counts every request that went over the wire.

// RetryOptions tune the retries of server errors; zero values take the
// defaults.
type RetryOptions struct {
	// Max is how many times a request is retried after the first try (3).
	Max int
	// WaitMin is the first wait; each retry doubles it (250ms).
	WaitMin time.Duration
	// WaitMax caps a wait (2s).
	WaitMax time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.Max <= 0 {
		o.Max = 3
	}
	if o.WaitMin <= 0 {
		o.WaitMin = 250 * time.Millisecond
	}
	if o.WaitMax <= 0 {
		o.WaitMax = 2 * time.Second
	}
	return o
}

// newRetryTransport retries connection errors and 500, 502, 503 and 504 a few
// times with exponential backoff, using hashicorp/go-retryablehttp, which is
// already a dependency, rewinds request bodies and honours the context
// while it waits. Rate limits (403, 429) are not retried: waiting for them is
// the controller's job, through RateLimitedError.
func newRetryTransport(next http.RoundTripper, o RetryOptions) http.RoundTripper {
	o = o.withDefaults()
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: next}
	c.Logger = nil
	c.RetryMax = o.Max
	c.RetryWaitMin = o.WaitMin
	c.RetryWaitMax = o.WaitMax
	c.CheckRetry = retryServerErrors
	c.Backoff = exponentialBackoff
	// After the last try, hand the response to go-github as it is, so that
	// the caller sees GitHub's status and message.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &retryablehttp.RoundTripper{Client: c}
}

func retryServerErrors(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		// retryablehttp knows which transport errors are worth another try
		// (not bad URLs or certificates).
		return retryablehttp.DefaultRetryPolicy(ctx, nil, err)
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// exponentialBackoff is retryablehttp's doubling backoff without its reading
// of Retry-After, which could make a call sleep for minutes.
func exponentialBackoff(min, max time.Duration, attempt int, _ *http.Response) time.Duration {
	return retryablehttp.DefaultBackoff(min, max, attempt, nil)
}

// callCounter counts the requests that go over the wire.
type callCounter struct {
	next  http.RoundTripper
	calls atomic.Int64
}

func (c *callCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(req)
}

// etagCache makes GETs conditional: it keeps the body and ETag of successful
// responses, sends If-None-Match with the next GET of the same URL, and on
// 304 Not Modified returns the kept body. GitHub does not count a 304
// against the rate limit, which is what makes polling pull requests cheap.
//
// It is a small RoundTripper rather than a general HTTP cache
// (gregjones/httpcache and the like): such caches follow Cache-Control, and
// GitHub's "max-age=60" would have them answer from memory for a minute
// without asking, hiding a merged or updated pull request from the poller.
// None is in this module's dependencies either. Here every GET reaches
// GitHub, and only the body is reused.
//
// A cache belongs to one GitHub provider, so to one token: responses for
// another token's requests never share it.
type etagCache struct {
	next       http.RoundTripper
	maxEntries int

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     list.List // of *cacheEntry, most recently used first
}

type cacheEntry struct {
	key    string
	etag   string
	header http.Header
	body   []byte
}

func newETagCache(next http.RoundTripper, maxEntries int) *etagCache {
	return &etagCache{next: next, maxEntries: maxEntries, entries: map[string]*list.Element{}}
}

func (c *etagCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" || req.Header.Get("Range") != "" {
		return c.next.RoundTrip(req)
	}
	key := req.URL.String() + "\x00" + req.Header.Get("Accept")
	cached := c.get(key)
	if cached != nil {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", cached.etag)
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case cached != nil && resp.StatusCode == http.StatusNotModified:
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return cached.response(req, resp.Header), nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		c.put(&cacheEntry{key: key, etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body})
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// response rebuilds the cached 200. The 304's headers replace the cached
// ones, as RFC 9111 asks: they carry the current rate-limit counts.
func (e *cacheEntry) response(req *http.Request, fresh http.Header) *http.Response {
	h := e.header.Clone()
	for k, v := range fresh {
		if k != "Content-Length" && k != "Content-Type" && k != "Transfer-Encoding" {
			h[k] = v
		}
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
}

func (c *etagCache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

func (c *etagCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[e.key] = c.lru.PushFront(e)
	for c.lru.Len() > c.maxEntries {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}
