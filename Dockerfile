# syntax=docker/dockerfile:1
#
# One image holding every vccsync binary in /usr/local/bin (the Kubernetes
# manifests run /usr/local/bin/syncworker and /usr/local/bin/publisher; the
# operator CLI is /usr/local/bin/vccctl, e.g. kubectl exec … -- vccctl dlq
# list): static (no cgo), on distroless, as the non-root user 65532.
#
#   docker build -t vccsync .
#   docker run --rm vccsync --version

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The .git directory is copied too: the Go toolchain stamps the VCS
# revision into the binaries (--version, vccsync_build_info).
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/syncworker ./cmd/publisher ./cmd/vccctl ./cmd/vcc-sandbox

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/syncworker"]
