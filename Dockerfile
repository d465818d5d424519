# Driftwood's production image: the app on a shell-less Python runtime assembled from Debian
# packages, running as a non-root user. Targets: `app` (the default, last stage) and `web`
# (nginx with the app's static files). `invoke up` builds both with BuildKit and passes the
# base images pinned in deploy/base-images.yaml as build arguments.

# Base images: deploy/base-images.yaml is the one source of truth. invoke passes each as
# NAME:TAG@sha256:DIGEST (the tag says what it is, the digest makes it immutable): the
# official digest where the lock records one, else the local stand-in's. These defaults, for
# a plain `docker build`, carry the lock's official digest where it has one (a test keeps
# them equal to the lock).
ARG DEBIAN_IMAGE=debian:trixie-slim@sha256:9b6ccd28f4913155f35e10ecd4437347d86ebce4ecf5853b3568141468faec56
ARG NGINX_IMAGE=nginx:1.30-trixie


# Every platform is built on the builder's own CPU ($BUILDPLATFORM): the target's wheels and
# .debs are downloaded and unpacked natively, and .pyc files do not depend on the CPU (the
# same Debian suite gives both architectures the same Python 3.13). Running the target's
# binaries instead (QEMU for arm64 on an amd64 host) took 16 minutes for apt alone.

# ---- python-build: Debian's Python 3.13 and the tools that build and install wheels -------
FROM --platform=$BUILDPLATFORM ${DEBIAN_IMAGE} AS python-build
# Keep the downloaded .debs for the cache mounts below (the official image deletes them).
RUN rm -f /etc/apt/apt.conf.d/docker-clean
# The apt cache lives in cache mounts: never in a layer. Versions come from the pinned
# Debian suite (exact pins would break at every point release).
# hadolint ignore=DL3008
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update \
    && apt-get install --yes --no-install-recommends \
        python3.13 python3.13-venv python3-pip python3-setuptools python3-build python3-installer
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# `installer` (Debian's python3-installer) puts a wheel into the venv whatever platform the
# wheel is for; the venv's interpreter finds it here.
ENV INSTALLER_PATH=/usr/lib/python3/dist-packages


# ---- venv: the dependencies, before any app code so a code change reuses this layer -------
FROM python-build AS venv
# No pip inside the venv. Its interpreter is a link to /usr/bin/python3.13, where the
# runtime has the same interpreter.
RUN python3.13 -m venv --without-pip /opt/venv
# The target's wheels (TARGETARCH: amd64 or arm64, set by BuildKit per platform), each
# checked against the hashes in the lock; binary wheels only (no compilers here). The lock's
# manylinux tags are those trixie's glibc runs. The host's CA bundle, when the network
# intercepts TLS, is a secret: mounted for this step only, never written to a layer.
# Hash-based .pyc files: the same bytes on every build (timestamps would differ), never
# re-validated against sources the image does not change.
ARG TARGETARCH
RUN --mount=type=bind,source=requirements/app.lock,target=/tmp/app.lock \
    --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && case "$TARGETARCH" in amd64) machine=x86_64 ;; arm64) machine=aarch64 ;; \
        *) echo "no wheels for $TARGETARCH" >&2; exit 1 ;; esac \
    && python3.13 -m pip download --dest /tmp/wheels \
        --platform "manylinux_2_28_$machine" --platform "manylinux2014_$machine" \
        --implementation cp --python-version 3.13 \
        --require-hashes --no-deps --only-binary=:all: -r /tmp/app.lock \
    && for wheel in /tmp/wheels/*.whl; do \
        PYTHONPATH=$INSTALLER_PATH /opt/venv/bin/python -m installer --no-compile-bytecode "$wheel"; \
    done \
    && rm -rf /tmp/wheels \
    && /opt/venv/bin/python -m compileall -q -j0 --invalidation-mode unchecked-hash /opt/venv


# ---- app-build: the app as a wheel, installed beside the venv into a staging root ----------
FROM venv AS app-build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# SOURCE_DATE_EPOCH (the commit time) makes the wheel, and so the installed files, repeatable.
ARG SOURCE_DATE_EPOCH
# Built by PyPA's `build` and installed by `installer` (both small and quick to start, unlike
# pip: a code-only rebuild stays within seconds) under /staging, so the runtime copies only
# these few files, in their own layer.
RUN python3.13 -m build --wheel --no-isolation --outdir /tmp/wheels . \
    && PYTHONPATH=$INSTALLER_PATH /opt/venv/bin/python -m installer \
        --destdir /staging --no-compile-bytecode /tmp/wheels/driftwood-*.whl \
    && /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash \
        -s /staging -p / /staging/opt/venv


# ---- rootfs: a distroless-style root filesystem from the target's Debian packages ---------
FROM python-build AS rootfs
ARG TARGETARCH
WORKDIR /tmp/debs
# Only what the interpreter loads (libzstd1: trixie's OpenSSL links it): no shell, no
# apt/dpkg, no pip. Left out on purpose: sqlite, readline/ncurses, dbm (stdlib modules that
# need them fail to import), tzdata (the app and PostgreSQL work in UTC). apt is told the
# target's architecture, so its packages download on any builder; dpkg-deb unpacks them
# without running them. Each package's control data goes to /var/lib/dpkg/status.d/
# like Google's distroless, so scanners still see every package.
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    <<'EOF'
set -eu
target_apt() {
    apt-get -o APT::Architecture="$TARGETARCH" -o APT::Architectures="$TARGETARCH" "$@"
}
target_apt update
target_apt download base-files netbase libc6 libgcc-s1 zlib1g libssl3t64 libffi8 libexpat1 \
    libbz2-1.0 liblzma5 libzstd1 libmpdec4 libuuid1 \
    python3.13-minimal libpython3.13-minimal libpython3.13-stdlib
# Debian's merged /usr: the links /bin, /lib (and /lib64 on amd64) into /usr come with
# base-files and libc6, so every binary finds its loader.
mkdir -p /rootfs/var/lib/dpkg/status.d
for deb in *.deb; do
    package=$(dpkg-deb --field "$deb" Package)
    dpkg-deb --extract "$deb" /rootfs
    dpkg-deb --field "$deb" >"/rootfs/var/lib/dpkg/status.d/$package"
done
# Documentation except the licences, and the parts of the stdlib a server never imports.
find /rootfs/usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete
# glibc's iconv modules (gconv, 8 MB): Python has its own codecs and never loads them.
rm -rf /rootfs/usr/share/man /rootfs/usr/share/info /rootfs/usr/share/lintian \
    /rootfs/usr/share/locale /rootfs/usr/share/gdb /rootfs/etc/init.d /rootfs/etc/skel \
    /rootfs/usr/lib/*-linux-gnu/gconv
stdlib=/rootfs/usr/lib/python3.13
rm -rf "$stdlib"/test "$stdlib"/idlelib "$stdlib"/tkinter "$stdlib"/turtledemo \
    "$stdlib"/turtle.py "$stdlib"/ensurepip "$stdlib"/pydoc_data "$stdlib"/lib2to3 \
    "$stdlib"/venv "$stdlib"/sqlite3 "$stdlib"/curses "$stdlib"/dbm
# CPython's own test extensions, and those whose libraries are left out above.
rm -f "$stdlib"/lib-dynload/_test* "$stdlib"/lib-dynload/_ctypes_test* \
    "$stdlib"/lib-dynload/xx* "$stdlib"/lib-dynload/_xxtestfuzz* \
    "$stdlib"/lib-dynload/_sqlite3* "$stdlib"/lib-dynload/_curses* \
    "$stdlib"/lib-dynload/_dbm* "$stdlib"/lib-dynload/_gdbm* "$stdlib"/lib-dynload/readline*
# The one fixed non-root user; any other UID works too, as nothing here needs writing.
cat >/rootfs/etc/passwd <<PASSWD
root:x:0:0:root:/root:/usr/sbin/nologin
driftwood:x:10001:10001:Driftwood:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >/rootfs/etc/group <<GROUP
root:x:0:
driftwood:x:10001:
nogroup:x:65534:
GROUP
# (The structure test, deploy/structure-tests/final.yaml, imports every C extension the app
# loads in the finished image: a library left out here fails there.)
# Byte-compile the stdlib with this stage's Python 3.13 (the same version): the root
# filesystem is read-only, so the runtime could never cache them itself. -s/-p record the
# paths as the runtime sees them.
python3.13 -m compileall -q -j0 --invalidation-mode unchecked-hash \
    -s /rootfs -p / /rootfs/usr/lib/python3.13
EOF


# ---- web: nginx serving the static files built above, and proxying the rest to the app ----
FROM ${NGINX_IMAGE} AS web
# Copied from the app build, not shared through a volume: each image release carries the
# static files of exactly the app version it fronts.
COPY --link --from=app-build /staging/opt/venv/lib/python3.13/site-packages/driftwood/static \
    /usr/share/nginx/driftwood/static
# Plain config files: nginx.conf serves HTTP; compose.prod.yaml starts nginx-tls.conf instead.
COPY --link deploy/nginx/nginx.conf deploy/nginx/nginx-tls.conf /etc/nginx/
COPY --link deploy/nginx/driftwood/ /etc/nginx/driftwood/
# One template, for what only the run knows (the published HTTPS port): the image's
# entrypoint renders it into /tmp, so the root filesystem can stay read-only.
COPY --link deploy/nginx/templates/ /etc/nginx/templates/
ENV NGINX_ENVSUBST_OUTPUT_DIR=/tmp DRIFTWOOD_HTTPS_PORT=443
COPY --link deploy/nginx/errors/ /usr/share/nginx/driftwood/errors/
COPY --link deploy/nginx/healthcheck.sh /usr/local/bin/healthcheck
# The image's sample site would listen on port 80 beside ours.
RUN rm -f /etc/nginx/conf.d/default.conf
# Unprivileged (any UID; compose uses 101): ports 8080/8443, pid and temp files in /tmp.
USER 101:101
EXPOSE 8080 8443
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --start-interval=1s --retries=3 \
    CMD ["healthcheck"]
# In the foreground as PID 1 (exec form, through the image's entrypoint).
CMD ["nginx", "-g", "daemon off;"]


# ---- app: the runtime, FROM scratch: the root filesystem, the venv, the app ----------------
FROM scratch AS app
# Three layers, largest and least often changed first: a code change ships a small layer.
COPY --link --from=rootfs /rootfs/ /
COPY --link --from=venv /opt/venv /opt/venv
COPY --link --from=app-build /staging/ /
# Logs go straight to the engine; no attempt to write .pyc on a read-only filesystem.
ENV PATH=/opt/venv/bin:/usr/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A fixed UID:GID (not a name) so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000
# Probes /healthz with the stdlib: no curl in the image. (`driftwood healthcheck` does the
# same, but imports the whole app and its libraries first: measured over 10 s per probe on a
# loaded 2-core host, against well under a second for this.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# Exec form: gunicorn is PID 1 and gets SIGTERM itself, then drains in-flight requests.
CMD ["gunicorn", "--config", "python:driftwood.gunicorn_conf", "driftwood.wsgi:app"]

ARG VERSION=0.0.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
# Last, so changing them re-runs nothing above. `created` is the commit time
# (SOURCE_DATE_EPOCH), not the build time, so rebuilds of a commit are identical.
LABEL org.opencontainers.image.title="Driftwood" \
      org.opencontainers.image.description="A self-hostable bookmark manager" \
      org.opencontainers.image.source="https://github.com/driftwood-bookmarks/driftwood" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
