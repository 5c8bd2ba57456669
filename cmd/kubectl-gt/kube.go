package main

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// kubeOptions are kubectl's connection flags (--kubeconfig, --context,
// -n/--namespace, --server, ...) and the clients made from them.
type kubeOptions struct {
	flags *genericclioptions.ConfigFlags
	// cfg and kube are made on first use, so that commands without a
	// cluster (validate) never read a kubeconfig.
	cfg  *rest.Config
	kube client.Client
}

func newKubeOptions() *kubeOptions {
	flags := genericclioptions.NewConfigFlags(true)
	// kubectl gt uses no discovery cache.
	flags.CacheDir = nil
	return &kubeOptions{flags: flags}
}

// restConfig returns the client configuration the flags select.
func (k *kubeOptions) restConfig() (*rest.Config, error) {
	if k.cfg != nil {
		return k.cfg, nil
	}
	cfg, err := k.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-gt"
	k.cfg = cfg
	return cfg, nil
}

// client returns a client for the gastown, Flux source and core kinds.
func (k *kubeOptions) client() (client.Client, error) {
	if k.kube != nil {
		return k.kube, nil
	}
	cfg, err := k.restConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	k.kube = c
	return c, nil
}

// clientset returns a client-go clientset, for what controller-runtime's
// client does not do (pod logs).
func (k *kubeOptions) clientset() (kubernetes.Interface, error) {
	cfg, err := k.restConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// namespaceFlag is the value of -n/--namespace; "" when not given.
func (k *kubeOptions) namespaceFlag() string {
	if k.flags.Namespace == nil {
		return ""
	}
	return *k.flags.Namespace
}

// contextNamespace is the namespace of the kubeconfig context in use; ""
// when the context sets none.
func (k *kubeOptions) contextNamespace() string {
	raw, err := k.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	name := raw.CurrentContext
	if k.flags.Context != nil && *k.flags.Context != "" {
		name = *k.flags.Context
	}
	if ctx := raw.Contexts[name]; ctx != nil {
		return ctx.Namespace
	}
	return ""
}

// namespace says where a namespaced command looks: -n/--namespace, else
// the workers namespace of rig (when one is given), else the namespace of
// the kubeconfig context, else the default workers namespace, which is
// where a rig keeps its objects unless it says otherwise.
func (k *kubeOptions) namespace(ctx context.Context, c client.Client, rig string) (string, error) {
	if ns := k.namespaceFlag(); ns != "" {
		return ns, nil
	}
	if rig != "" {
		r, err := getRig(ctx, c, rig)
		if err != nil {
			return "", err
		}
		return r.WorkersNamespace(), nil
	}
	if ns := k.contextNamespace(); ns != "" {
		return ns, nil
	}
	return gastownv1.DefaultWorkersNamespace, nil
}

// getRig reads a rig, saying what to do when it does not exist.
func getRig(ctx context.Context, c client.Client, name string) (*gastownv1.Rig, error) {
	rig := &gastownv1.Rig{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, rig); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("rig %q not found: list the rigs with 'kubectl gt rig list'", name)
		}
		return nil, apiError(err)
	}
	return rig, nil
}

// apiError explains the errors every command can meet.
func apiError(err error) error {
	if apimeta.IsNoMatchError(err) {
		return fmt.Errorf("%w: the gastown.gastown.io CRDs are not installed in this cluster; install gastown-operator first", err)
	}
	return err
}

// notFound is the error for a missing namespaced object, with the command
// that lists what exists.
func notFound(kind, name, namespace string) error {
	return fmt.Errorf("%s %q not found in namespace %s: list them with 'kubectl gt %s list -n %s'", kind, name, namespace, kind, namespace)
}
