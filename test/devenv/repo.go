package devenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/testenv"
)

// BeadsDir is where the sample repository keeps its bead files: the
// BeadStore's default path.
const BeadsDir = gastownv1.DefaultManifestsPath

// sampleRepository is the first commit of the sample repository: a tiny Go
// program for the agents to work on, and the bead files.
func sampleRepository(name string, beads map[string]string) (map[string]string, error) {
	if beads == nil {
		var err error
		if beads, err = ExampleBeads(); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"go.mod":    "module example.com/" + name + "\n\ngo 1.22\n",
		"main.go":   sampleMain,
		"README.md": sampleReadme(name, beads),
	}
	for file, content := range beads {
		p := path.Join(BeadsDir, filepath.ToSlash(file))
		if !strings.HasPrefix(p, BeadsDir+"/") {
			return nil, fmt.Errorf("bead file %q is not inside %s", file, BeadsDir)
		}
		files[p] = content
	}
	return files, nil
}

// ExampleBeads returns the project's examples/*.yaml by file name: the
// beads a new sample repository gets.
func ExampleBeads() (map[string]string, error) {
	root, err := testenv.ProjectRoot()
	if err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no bead files in %s", filepath.Join(root, "examples"))
	}
	beads := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		beads[filepath.Base(p)] = string(b)
	}
	return beads, nil
}

const sampleMain = `// Command demo is the sample program the polecats of the development
// environment work on.
package main

import "fmt"

func main() {
	fmt.Println("hello from the gastown sample repository")
}
`

func sampleReadme(name string, beads map[string]string) string {
	files := make([]string, 0, len(beads))
	for f := range beads {
		files = append(files, "- "+BeadsDir+"/"+f)
	}
	sort.Strings(files)
	if len(files) == 0 {
		files = append(files, "(none yet: commit bead files under "+BeadsDir+"/)")
	}
	return "# " + name + "\n\n" +
		"The sample repository of gastown-operator's development environment (test/devenv).\n" +
		"A tiny Go program, and the work for the polecats as bead files:\n\n" +
		strings.Join(files, "\n") + "\n"
}

// newSSHKey makes an ed25519 key: the private key in OpenSSH PEM form, as
// ssh-keygen writes it, and the public key as an authorized_keys line.
func newSSHKey() (privatePEM []byte, authorized string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "devenv")
	if err != nil {
		return nil, "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(block), string(ssh.MarshalAuthorizedKey(sshPub)), nil
}
