package githubemu

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// app is a GitHub App installed on every repository of the emulator.
type app struct {
	key            *rsa.PublicKey
	installationID int64
	tokenTTL       time.Duration
}

// installationToken is a token an app's installation was issued.
type installationToken struct {
	expiresAt time.Time
}

// RegisterApp makes appID a GitHub App with the public half of its private
// key, installed (as installationID) on the emulator's repositories. Its
// installation tokens last ttl; GitHub's last an hour.
func (s *Server) RegisterApp(appID, installationID int64, key *rsa.PublicKey, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		s.apps = map[int64]*app{}
		s.installTokens = map[string]installationToken{}
	}
	s.apps[appID] = &app{key: key, installationID: installationID, tokenTTL: ttl}
}

// InstallationTokens is how many installation tokens were issued.
func (s *Server) InstallationTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.installTokens)
}

// createInstallationToken answers POST /app/installations/{id}/access_tokens,
// authenticated as the app with a JWT (RS256, iss the app ID, at most ten
// minutes between iat and exp), as GitHub requires.
func (s *Server) createInstallationToken(c *call) response {
	a, ok := s.appOf(c.r)
	if !ok {
		return apiError(http.StatusUnauthorized, "A JSON web token could not be decoded")
	}
	id, err := strconv.ParseInt(c.params["id"], 10, 64)
	if err != nil || id != a.installationID {
		return notFound()
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	token := "ghs_" + hex.EncodeToString(b)
	expires := now().Add(a.tokenTTL)
	s.installTokens[token] = installationToken{expiresAt: expires}
	return reply(http.StatusCreated, map[string]any{"token": token, "expires_at": expires.UTC().Format(time.RFC3339)})
}

// appOf verifies the request's JWT and returns the app it authenticates.
func (s *Server) appOf(r *http.Request) (*app, bool) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, false
	}
	var found *app
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		id, err := strconv.ParseInt(claims.Issuer, 10, 64)
		if err != nil {
			return nil, err
		}
		a, ok := s.apps[id]
		if !ok {
			return nil, jwt.ErrTokenUnverifiable
		}
		found = a
		return a.key, nil
	}, jwt.WithValidMethods([]string{"RS256"}))
	if err != nil || found == nil || claims.IssuedAt == nil || claims.ExpiresAt == nil ||
		claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute {
		return nil, false
	}
	return found, true
}

// installationTokenValid says whether token is an unexpired installation token.
func (s *Server) installationTokenValid(token string) bool {
	t, ok := s.installTokens[token]
	return ok && now().Before(t.expiresAt)
}
