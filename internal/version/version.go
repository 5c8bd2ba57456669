// Package version is the operator's version: the one number behind the
// chart, the image tags and the operator's default images. It is kept in the
// file VERSION beside this one, which the Makefile reads too.
package version

import (
	_ "embed"
	"strings"
)

//go:embed VERSION
var file string

// Version is the release, e.g. "0.4.0"; image tags are "v" + Version.
var Version = strings.TrimSpace(file)

// Registry is where the project publishes its images.
const Registry = "ghcr.io/boshu2"

// Image is the project's image of a name at this version, e.g.
// Image("gastown-polecat") = "ghcr.io/boshu2/gastown-polecat:v0.4.0".
func Image(name string) string { return Registry + "/" + name + ":v" + Version }
