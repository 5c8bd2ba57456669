package polecat

import corev1 "k8s.io/api/core/v1"

// RequiredSecrets names the secrets without which the kubelet cannot start
// the pod's containers (CreateContainerConfigError) or mount its volumes:
// those its volumes, env and envFrom reference and do not mark optional.
// Each name appears once, in the order the spec first names it.
func RequiredSecrets(spec *corev1.PodSpec) []string {
	var names []string
	seen := map[string]bool{}
	add := func(name string, optional *bool) {
		if name == "" || seen[name] || (optional != nil && *optional) {
			return
		}
		seen[name] = true
		names = append(names, name)
	}
	for _, v := range spec.Volumes {
		if s := v.Secret; s != nil {
			add(s.SecretName, s.Optional)
		}
		if p := v.Projected; p != nil {
			for _, src := range p.Sources {
				if s := src.Secret; s != nil {
					add(s.Name, s.Optional)
				}
			}
		}
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, e := range c.EnvFrom {
			if s := e.SecretRef; s != nil {
				add(s.Name, s.Optional)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Optional)
			}
		}
	}
	return names
}
