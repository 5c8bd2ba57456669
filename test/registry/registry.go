// Package registry runs a real OCI distribution registry on loopback for
// tests (go-containerregistry's in-memory registry), pushes the project's
// image tarballs into it with go-containerregistry, and pushes the Helm
// chart into it with the real helm. It speaks plain HTTP on 127.0.0.1, as
// `helm --plain-http` and a containerd mirror with an http:// endpoint
// expect.
package registry

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Registry is a running registry.
type Registry struct {
	// Host is host:port, e.g. 127.0.0.1:40123: the registry part of the
	// images' names and of oci:// chart references.
	Host string

	srv *http.Server
	ln  net.Listener
}

// Start serves a new, empty registry on a free loopback port. Its request
// log goes to logOut (io.Discard when nil).
func Start(logOut io.Writer) (*Registry, error) {
	if logOut == nil {
		logOut = io.Discard
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Registry{
		Host: ln.Addr().String(),
		ln:   ln,
		srv: &http.Server{
			Handler:           ggcrregistry.New(ggcrregistry.Logger(log.New(logOut, "registry: ", log.LstdFlags))),
			ReadHeaderTimeout: 10 * time.Second,
		},
	}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Stop stops serving; what it held is gone.
func (r *Registry) Stop() error { return r.srv.Close() }

// Ref is the registry's name for repo:tag, e.g. 127.0.0.1:40123/boshu2/gastown-operator:v0.4.0.
func (r *Registry) Ref(repo, tag string) string { return r.Host + "/" + repo + ":" + tag }

// PushTarball pushes the image in a docker-archive tarball (one image, as
// test/images writes) to ref, a name in this registry.
func (r *Registry) PushTarball(path, ref string) error {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return fmt.Errorf("reading image %s: %w", path, err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return err
	}
	if tag.RegistryStr() != r.Host {
		return fmt.Errorf("%s is not in the registry %s", ref, r.Host)
	}
	if err := push(r.Host, tag.RepositoryStr(), tag.TagStr(), img); err != nil {
		return fmt.Errorf("pushing %s to %s: %w", path, ref, err)
	}
	return nil
}

// push uploads img's layers and config as blobs (monolithic uploads) and
// puts its manifest under tag, by the OCI distribution API. (It is what
// remote.Write does; pkg/v1/remote would pull docker/cli into the module
// graph for its keychain, which a plain-HTTP loopback registry does not need.)
func push(host, repo, tag string, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	base := "http://" + host + "/v2/" + repo
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = putBlob(base, digest.String(), rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := putBlob(base, cfgName.String(), bytes.NewReader(cfg)); err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, base+"/manifests/"+tag, bytes.NewReader(manifest))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mt))
	return do(req, http.StatusCreated)
}

func putBlob(base, digest string, body io.Reader) error {
	resp, err := http.Post(base+"/blobs/uploads/", "application/octet-stream", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("starting a blob upload: %s", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodPut, loc.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return do(req, http.StatusCreated)
}

func do(req *http.Request, want int) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// PushChart packages the chart in chartDir with helm (helm package) into
// a temporary directory and pushes it to oci://<Host>/<repo> (helm push
// --plain-http). It returns the chart's reference,
// oci://<Host>/<repo>/<chart name>, for helm install --version.
func (r *Registry) PushChart(helm, chartDir, repo string) (string, error) {
	dir, err := os.MkdirTemp("", "gastown-chart-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if _, err := runHelm(helm, "package", chartDir, "--destination", dir); err != nil {
		return "", err
	}
	tgzs, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(tgzs) != 1 {
		return "", fmt.Errorf("helm package %s made %d archives, not one", chartDir, len(tgzs))
	}
	target := "oci://" + r.Host + "/" + strings.Trim(repo, "/")
	if _, err := runHelm(helm, "push", tgzs[0], target, "--plain-http"); err != nil {
		return "", err
	}
	base := strings.TrimSuffix(filepath.Base(tgzs[0]), ".tgz")
	// <name>-<version>.tgz; chart names may hold dashes, versions start with a digit.
	chart := base
	for i := len(base) - 1; i > 0; i-- {
		if base[i] == '-' && i+1 < len(base) && base[i+1] >= '0' && base[i+1] <= '9' {
			chart = base[:i]
			break
		}
	}
	return target + "/" + chart, nil
}

func runHelm(helm string, args ...string) (string, error) {
	cmd := exec.Command(helm, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
