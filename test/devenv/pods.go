package devenv

import (
	"context"
	"fmt"
	"path/filepath"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/version"
	"github.com/boshu2/gastown-operator/test/images"
	"github.com/boshu2/gastown-operator/test/node"
)

// ScriptedAgentPath is where the scripted agent's image keeps it.
const ScriptedAgentPath = "/usr/local/bin/" + agentBinary

// ScriptedAgentImage is the scripted agent's image on the node, for the
// rig's polecats with the scripted agent and for polecats made by hand
// (agent custom, command ScriptedAgentPath). Local polecats run AgentPath
// instead, but the operator still requires an image for agent custom.
var ScriptedAgentImage = "gastown-scripted-agent:v" + version.Version

// podAgents are the agents whose images the node holds, whatever the rig's
// agent: polecats made by hand may name another.
var podAgents = []gastownv1.AgentType{gastownv1.AgentClaudeCode, gastownv1.AgentOpenCode}

// buildImages makes the images the node's pods run: the runner's, the
// agents' (the operator's default names, so that polecats find them with
// their default pull policy) and the scripted agent's.
func (e *Env) buildImages(ctx context.Context) error {
	set, err := images.Build(ctx, images.Options{Agents: podAgents, Logf: e.logf})
	if err != nil {
		return err
	}
	e.Images = set
	e.imageTarballs = append(e.imageTarballs, set.Runner.Tarball)
	for _, img := range set.Agents {
		e.imageTarballs = append(e.imageTarballs, img.Tarball)
	}
	if e.AgentPath != "" {
		tarball := filepath.Join(images.DefaultCacheDir(), "scripted-agent.tar")
		files := map[string]node.File{ScriptedAgentPath: {Source: e.AgentPath, Mode: 0o755}}
		if err := node.BuildImage(ScriptedAgentImage, files, node.ImageConfig{User: "65532"}, tarball); err != nil {
			return err
		}
		e.imageTarballs = append(e.imageTarballs, tarball)
	}
	return nil
}

// startNode starts containerd and the kubelet, with kube-scheduler and
// kube-controller-manager, and imports the images before the kubelet runs.
func (e *Env) startNode(ctx context.Context) error {
	n, err := node.Start(ctx, node.Options{
		Kubeconfig:        e.Kubeconfig,
		Dir:               filepath.Join(e.Dir, "node"),
		KeepDir:           true, // Stop removes Dir, the node's with it
		Scheduler:         true,
		ControllerManager: true,
		Images:            e.imageTarballs,
		Registries:        e.opts.Registries,
		Logf:              e.logf,
	})
	if err != nil {
		return err
	}
	e.Node = n
	e.endpoints.Kubelet = fmt.Sprintf("https://127.0.0.1:%d", n.KubeletPort)
	return nil
}
