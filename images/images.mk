# The project's images, one directory each under images/ (included from the
# Makefile). Each builds for every platform in IMAGE_PLATFORMS from the
# repository root, tagged v$(VERSION) like version.Image in
# internal/version, with the agent CLIs' versions from images/versions.env
# as build args. Without PUSH the result stays in buildx's cache (a
# multi-platform image cannot be loaded into docker): PUSH=1 pushes. For a
# local single-platform image: make image-polecat IMAGE_PLATFORMS=linux/amd64
# IMAGE_FLAGS=--load. The tests build the same images without docker
# (test/images).

IMAGE_REGISTRY ?= ghcr.io/boshu2
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
PUSH ?=
IMAGE_FLAGS ?=
VERSION ?= $(shell cat internal/version/VERSION)

# Directories under images/, and the repository each is published to (the
# names the operator's defaults use: internal/polecat/settings.go).
IMAGES := manager polecat claude-code opencode aider
image_repo = $(if $(filter manager,$1),gastown-operator,$(if $(filter polecat,$1),gastown-polecat,gastown-agent-$1))
image_ref = $(IMAGE_REGISTRY)/$(call image_repo,$1):v$(VERSION)

# Every pinned version, e.g. --build-arg CLAUDE_CODE_VERSION=2.1.328; each
# Dockerfile uses the ones it needs.
IMAGE_BUILD_ARGS := $(addprefix --build-arg ,$(shell grep -E '^[A-Z0-9_]+=' images/versions.env))

##@ Images

.PHONY: images
images: $(addprefix image-,$(IMAGES)) ## Build every image for IMAGE_PLATFORMS (PUSH=1 pushes them to IMAGE_REGISTRY).

.PHONY: $(addprefix image-,$(IMAGES))
$(addprefix image-,$(IMAGES)): image-%:
	docker buildx build --platform $(IMAGE_PLATFORMS) -f images/$*/Dockerfile \
		$(IMAGE_BUILD_ARGS) -t $(call image_ref,$*) $(if $(PUSH),--push) $(IMAGE_FLAGS) .

.PHONY: image-names
image-names: ## Print the image each images/ directory is published as.
	@$(foreach d,$(IMAGES),echo "$(d) $(call image_ref,$(d))";)
