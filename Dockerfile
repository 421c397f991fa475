# syntax=docker/dockerfile:1
# Build: a static binary (modernc.org/sqlite needs no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/dayops ./cmd/dayops

# Run: steps are bash scripts from the ops repo, so the image has bash, git
# (for scripts that use it) and CA certificates; tini reaps the step processes.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash git ca-certificates tini curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin dayops \
 && mkdir -p /data && chown dayops /data
COPY --from=build /out/dayops /usr/local/bin/dayops
USER dayops
WORKDIR /data
ENV DAYOPS_DATABASE=/data/dayops.db
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/dayops"]
CMD ["demo", "--data", "/data/demo"]
