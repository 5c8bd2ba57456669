package githubemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const docsURL = "https://docs.github.com/rest"

// response is what a handler answers; Server.write encodes it.
type response struct {
	status int
	body   any
	header http.Header
}

func reply(status int, body any) response {
	return response{status: status, body: body}
}

func apiError(status int, message string) response {
	return reply(status, errorJSON{Message: message, DocumentationURL: docsURL})
}

func notFound() response {
	return apiError(http.StatusNotFound, "Not Found")
}

// validationFailed is GitHub's 422 with details, the answer to a request
// whose values are wrong.
func validationFailed(details ...errorDetailJSON) response {
	return reply(http.StatusUnprocessableEntity, errorJSON{
		Message:          "Validation Failed",
		Errors:           details,
		DocumentationURL: docsURL,
	})
}

// customValidation is a 422 Validation Failed with one free-text reason, as
// GitHub sends for "A pull request already exists for ...".
func customValidation(resource, format string, args ...any) response {
	return validationFailed(errorDetailJSON{Resource: resource, Code: "custom", Message: fmt.Sprintf(format, args...)})
}

func internalError(err error) response {
	return apiError(http.StatusInternalServerError, "githubemu: "+err.Error())
}

// decode reads a JSON request body into v. An empty body leaves v as it is,
// since GitHub treats a missing body like an empty object.
func decode(c *call, v any) (response, bool) {
	data, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	if err != nil {
		return apiError(http.StatusBadRequest, "Problems parsing JSON"), false
	}
	if len(data) == 0 {
		return response{}, true
	}
	if err := json.Unmarshal(data, v); err != nil {
		return apiError(http.StatusBadRequest, "Problems parsing JSON"), false
	}
	return response{}, true
}

// number parses the {number} wildcard.
func (c *call) number() (int, bool) {
	n, err := strconv.Atoi(c.params["number"])
	return n, err == nil && n > 0
}

// paginate returns the page of items that the page and per_page parameters
// select (GitHub's defaults: page 1, 30 per page, at most 100) and the Link
// header that points to the neighbouring pages.
func paginate[T any](c *call, items []T) ([]T, http.Header) {
	q := c.r.URL.Query()
	perPage := atoiDefault(q.Get("per_page"), 30)
	perPage = min(max(perPage, 1), 100)
	page := max(atoiDefault(q.Get("page"), 1), 1)
	last := max((len(items)+perPage-1)/perPage, 1)

	start := min((page-1)*perPage, len(items))
	end := min(start+perPage, len(items))
	out := items[start:end]

	var links []string
	link := func(rel string, p int) {
		u := *c.r.URL
		u.Scheme, u.Host = "http", c.r.Host
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		u.RawQuery = v.Encode()
		links = append(links, fmt.Sprintf("<%s>; rel=%q", (&u).String(), rel))
	}
	if page < last {
		link("next", page+1)
		link("last", last)
	}
	if page > 1 {
		link("first", 1)
		link("prev", min(page-1, last))
	}
	h := http.Header{}
	if len(links) > 0 {
		h.Set("Link", strings.Join(links, ", "))
	}
	if out == nil {
		out = []T{}
	}
	return out, h
}

func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// listReply is a 200 with one page of items.
func listReply[T any](c *call, items []T) response {
	page, h := paginate(c, items)
	return response{status: http.StatusOK, body: page, header: h}
}

// urlPath joins path segments escaping each, for URLs in response bodies.
func urlPath(segs ...string) string {
	out := ""
	for _, s := range segs {
		out += "/" + url.PathEscape(s)
	}
	return out
}
