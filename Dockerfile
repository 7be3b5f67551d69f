# sessionproxy's image: a static binary on distroless/static (CA
# certificates and tzdata, no shell, no libc), running as a non-root user.
#
#   docker build --build-arg VERSION=1.2.3 -t sessionproxy .
#   docker run -v $PWD/config.yaml:/etc/sessionproxy/config.yaml:ro \
#     -e SESSION_KEY -e UPSTREAM_SECRET -p 3000:3000 sessionproxy
#
# The build step is docker/build.sh, which the tests run too.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN VERSION="${VERSION}" docker/build.sh /out/sessionproxy

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sessionproxy /usr/local/bin/sessionproxy
USER 65532:65532
# 3000: the public listener; 9090: the admin listener (/metrics, /healthz, /readyz).
EXPOSE 3000 9090
ENTRYPOINT ["/usr/local/bin/sessionproxy"]
CMD ["-config", "/etc/sessionproxy/config.yaml"]
