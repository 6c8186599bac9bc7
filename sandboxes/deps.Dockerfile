# A per-repo dependency layer: the repo's test requirements pip-installed once on top of the
# sandbox image. Built by `harness sandbox build --repo PATH` (with network, unlike the base);
# reused while the requirement files are unchanged (see harness/sandbox/deps.py).
ARG BASE=harness-sandbox:latest
FROM ${BASE}
USER root
COPY ca.crt /tmp/harness-ca.crt
COPY reqs/ /etc/harness-deps/
# The host's CA bundle (it may hold a local proxy's CA) is used only when it was provided.
# /etc/harness-deps keeps the installed requirement files: what this image was built from.
RUN cd /etc/harness-deps \
 && if [ -s /tmp/harness-ca.crt ]; then export PIP_CERT=/tmp/harness-ca.crt; fi \
 && python3 -m pip install --no-cache-dir --break-system-packages --disable-pip-version-check \
      --root-user-action=ignore -r install.txt \
 && rm -f /tmp/harness-ca.crt
USER sandbox
