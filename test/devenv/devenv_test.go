package devenv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/devenv"
)

const (
	timeout = 90 * time.Second
	poll    = 250 * time.Millisecond
)

// TestDevEnv starts the environment and checks each part for real, in the
// order the parts depend on each other; it stops at the first part that
// does not work, since the later ones would only repeat the failure.
func TestDevEnv(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	began := time.Now()
	// GASTOWN_DEVENV_KEEP=1 keeps the env's directory (logs, artifacts,
	// polecat work directories) for a look after the test.
	env, err := devenv.Start(ctx, devenv.Options{Logf: t.Logf, KeepDir: os.Getenv("GASTOWN_DEVENV_KEEP") != ""})
	if err != nil {
		t.Fatalf("starting the development environment: %v", err)
	}
	t.Logf("started in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of %s:\n%s", env.SourceControllerLog, devenv.LogTail(env.SourceControllerLog, 40))
			t.Logf("the end of %s:\n%s", env.OperatorLog, devenv.LogTail(env.OperatorLog, 60))
		}
		env.Stop()
	})

	var revision string
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"source-controller makes an artifact of the head", func(t *testing.T) { revision = checkArtifact(t, env) }},
		{"the artifact is served from loopback storage", func(t *testing.T) { checkStorage(t, env) }},
		{"the GitHub emulator answers with the token", func(t *testing.T) { checkEmulator(t, env) }},
		{"the operator is ready", func(t *testing.T) { checkOperator(t, env) }},
		{"the rig syncs the example beads", func(t *testing.T) { checkRig(t, env, revision) }},
		{"a pushed commit becomes a new artifact", func(t *testing.T) { checkPush(t, ctx, env, revision) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

func gitRepository(g Gomega, env *devenv.Env) *sourcev1.GitRepository {
	repo := &sourcev1.GitRepository{}
	g.Expect(env.Client.Get(context.Background(), env.SourceKey(), repo)).To(Succeed())
	return repo
}

func checkArtifact(t *testing.T, env *devenv.Env) string {
	g := NewWithT(t)
	head, err := env.HeadRevision()
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		repo := gitRepository(g, env)
		ready := apimeta.FindStatusCondition(repo.Status.Conditions, meta.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), ready.Message)
		g.Expect(repo.Status.Artifact).NotTo(BeNil())
		g.Expect(repo.Status.Artifact.Revision).To(Equal(head))
	}, timeout, poll).Should(Succeed())
	return head
}

// checkStorage downloads the artifact from the URL source-controller
// advertises and checks it against the digest in the status.
func checkStorage(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	artifact := gitRepository(g, env).Status.Artifact
	g.Expect(artifact.URL).To(HavePrefix("http://" + env.Endpoints().SourceStorage + "/"))
	body, status := get(g, artifact.URL, "")
	g.Expect(status).To(Equal(http.StatusOK))
	sum := sha256.Sum256(body)
	g.Expect("sha256:" + hex.EncodeToString(sum[:])).To(Equal(artifact.Digest))
}

func checkEmulator(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	url := env.GitHub.URL() + "repos/" + env.Owner + "/" + env.Repo
	body, status := get(g, url, env.Token)
	g.Expect(status).To(Equal(http.StatusOK), string(body))
	var repo struct {
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
	}
	g.Expect(json.Unmarshal(body, &repo)).To(Succeed())
	g.Expect(repo.FullName).To(Equal(env.Owner + "/" + env.Repo))
	g.Expect(repo.CloneURL).To(Equal(env.CloneURL))

	_, status = get(g, url, "not-the-token")
	g.Expect(status).To(Equal(http.StatusUnauthorized))
}

func checkOperator(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	for _, path := range []string{"/readyz", "/healthz"} {
		_, status := get(g, "http://"+env.Endpoints().OperatorHealth+path, "")
		g.Expect(status).To(Equal(http.StatusOK), path)
	}
	_, status := get(g, "http://"+env.Endpoints().OperatorMetrics+"/metrics", "")
	g.Expect(status).To(Equal(http.StatusOK))
}

// checkRig checks that the rig kept the env's Refinery, and that its
// BeadStore applied the artifact's revision as one Bead per example bead.
func checkRig(t *testing.T, env *devenv.Env, revision string) {
	g := NewWithT(t)
	ctx := context.Background()
	rig := &gastownv1.Rig{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: env.Name}, rig)).To(Succeed())

	refineries := &gastownv1.RefineryList{}
	g.Expect(env.Client.List(ctx, refineries, client.InNamespace(devenv.WorkersNamespace))).To(Succeed())
	g.Expect(refineries.Items).To(HaveLen(1))
	g.Expect(refineries.Items[0].Spec.GitHub.BaseURL).To(Equal(env.GitHub.URL()))

	waitBeadStore(t, env, revision)

	want := exampleBeadIDs(t)
	g.Eventually(func(g Gomega) {
		beads := &gastownv1.BeadList{}
		g.Expect(env.Client.List(ctx, beads, client.InNamespace(devenv.WorkersNamespace),
			client.MatchingLabels{gastownv1.RigLabel: env.Name})).To(Succeed())
		var got []string
		for _, b := range beads.Items {
			got = append(got, b.Name)
		}
		g.Expect(got).To(ConsistOf(want))
	}, timeout, poll).Should(Succeed())
}

func waitBeadStore(t *testing.T, env *devenv.Env, revision string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		store := &gastownv1.BeadStore{}
		key := client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: env.Name}
		g.Expect(env.Client.Get(context.Background(), key, store)).To(Succeed())
		g.Expect(store.Status.LastAppliedRevision).To(Equal(revision), "BeadStore conditions: %v", store.Status.Conditions)
	}, timeout, poll).Should(Succeed())
}

func checkPush(t *testing.T, ctx context.Context, env *devenv.Env, before string) {
	g := NewWithT(t)
	sha, err := env.Push("Describe the sample", map[string]string{"README.md": "# demo\n\nPushed by TestDevEnv.\n"})
	g.Expect(err).NotTo(HaveOccurred())

	after, err := env.ReconcileSource(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after).NotTo(Equal(before))
	g.Expect(after).To(Equal("main@sha1:" + sha))

	waitBeadStore(t, env, after)
}

// exampleBeadIDs are the names of the Bead documents in the example files.
func exampleBeadIDs(t *testing.T) []string {
	t.Helper()
	files, err := devenv.ExampleBeads()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for name, content := range files {
		dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(content), 4096)
		for {
			var doc struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("examples/%s: %v", name, err)
			}
			if doc.Kind == "Bead" {
				ids = append(ids, doc.Metadata.Name)
			}
		}
	}
	if len(ids) == 0 {
		t.Fatal("the example files hold no Bead")
	}
	sort.Strings(ids)
	return ids
}

// get fetches url, with a token when one is given, and returns the body
// and the status code.
func get(g Gomega, url, token string) ([]byte, int) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	g.Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var body bytes.Buffer
	_, err = io.Copy(&body, resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	return body.Bytes(), resp.StatusCode
}
