package refinery

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/boshu2/gastown-operator/internal/redact"
)

// scpLike matches git's short SSH form, [user@]host:path.
var scpLike = regexp.MustCompile(`^(?:[^@/:]+@)?[^@/:]+:([^/].*)$`)

// ParseRepoURL returns the owner and repository of a git URL:
// https://github.com/o/r(.git), http://host:port/o/r.git, git@github.com:o/r.git
// or ssh://git@host[:port]/o/r.git. The path must be exactly owner/repo.
func ParseRepoURL(gitURL string) (owner, repo string, err error) {
	path, err := repoPath(gitURL)
	if err != nil {
		return "", "", err
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	parts := strings.Split(path, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", fmt.Errorf("git URL %q does not name an owner/repo", redact.URL(gitURL))
	}
	return parts[0], parts[1], nil
}

func repoPath(gitURL string) (string, error) {
	if strings.Contains(gitURL, "://") {
		u, err := url.Parse(gitURL)
		if err != nil {
			// url.Parse's error quotes the URL, credentials and all.
			return "", fmt.Errorf("invalid git URL %q", redact.URL(gitURL))
		}
		switch u.Scheme {
		case "http", "https", "ssh", "git":
			return u.Path, nil
		}
		return "", fmt.Errorf("git URL %q: unsupported scheme %q", redact.URL(gitURL), u.Scheme)
	}
	if m := scpLike.FindStringSubmatch(gitURL); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("invalid git URL %q", redact.URL(gitURL))
}
