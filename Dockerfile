# Builds the operator image: the manager and the polecat runner, which the
# operator copies into every polecat pod through an init container.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /out/gastown-polecat ./cmd/polecat

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/manager /usr/local/bin/manager
COPY --from=build /out/gastown-polecat /usr/local/bin/gastown-polecat
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/manager"]
