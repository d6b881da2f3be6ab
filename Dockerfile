# Strata's container image: a static binary on distroless, run as a
# non-root user. Build it from the repository root:
#   docker build -t strata:dev .
# (any OCI builder reading a Dockerfile works: docker, podman, buildah, kaniko).

# Build stage: the Go toolchain the module asks for (go.mod's go line).
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version strata --version prints.
ARG VERSION=dev
# CGO_ENABLED=0: a static binary with no libc to need (SQLite is pure Go);
# -trimpath keeps the build machine's paths out of it.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/strata-gateway/strata/internal/app.Version=${VERSION}" \
      -o /out/strata ./cmd/strata

# Run stage: distroless "static" has CA certificates (for Bedrock, STS and
# PostgreSQL over TLS), time zones and /etc/passwd, and nothing else: no
# shell, no package manager. The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/strata /usr/local/bin/strata
USER 65532:65532
# The port strata listens on (its --port default).
EXPOSE 4000
ENTRYPOINT ["/usr/local/bin/strata"]
# A config file mounted here (a Kubernetes ConfigMap, or docker run -v).
CMD ["--config", "/etc/strata/config.yaml"]
