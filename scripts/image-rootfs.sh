#!/bin/bash
# Runs inside the Dockerfile's `rootfs` stage (Debian bookworm-slim): installs the firewall and
# network tools, points iptables/ip6tables at the legacy backend as upstream's image does, then
# prunes the root file system down to what the running image needs. The final stage copies the
# result onto `scratch` in one layer, so nothing deleted here costs space.
#
# Kept: the dependency closure (Depends/Pre-Depends, no Recommends) of the tools the image runs —
# iptables (legacy and nft), nftables/libnftables, iproute2, bash, dash (/bin/sh), coreutils,
# findutils, grep, sed, tar (`kubectl cp`), procps and pidof (as busybox gives upstream's image), and
# Node's libstdc++/libgcc — minus the package
# manager itself (dpkg, debconf). Every other package's files go (apt, perl-base, util-linux, PAM,
# login/passwd, e2fsprogs, tzdata, gnutls, ...), as do ca-certificates and openssl: only the CA
# bundle they generate, /etc/ssl/certs/ca-certificates.crt, stays. Also gone: glibc's gconv
# modules (iconv; nothing here uses it), docs (copyright files stay), man pages, locales, apt
# lists and caches. /var/lib/dpkg/status keeps the kept packages' entries, so image scanners
# still see what is installed. docs/IMAGE.md has the sizes.
set -euo pipefail

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  iptables nftables libnftables1 iproute2 ca-certificates procps >/dev/null
update-alternatives --set iptables /usr/sbin/iptables-legacy
update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy

ROOTS=(iptables nftables libnftables1 iproute2 bash dash coreutils findutils grep sed tar procps sysvinit-utils
  libstdc++6 libgcc-s1 base-files base-passwd netbase)
NO_PACKAGE_MANAGER=(dpkg debconf libdebconfclient0)
all=$(dpkg-query -W -f='${Package}\n' | sort -u)
# (apt-cache also names uninstalled alternatives of "a | b" dependencies: only installed ones count.)
keep=$(apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
         --no-breaks --no-replaces --no-enhances "${ROOTS[@]}" | grep '^[a-z0-9]' | sort -u |
       grep -vxF -f <(printf '%s\n' "${NO_PACKAGE_MANAGER[@]}") | comm -12 - <(echo "$all"))
drop=$(comm -23 <(echo "$all") <(echo "$keep"))

# The status file scanners read, for the kept packages only (written before dpkg goes).
dpkg-query -s $keep >/tmp/status
# Files of every dropped package (directories stay: kept packages share them; /bin is a symlink
# to a directory on merged /usr and must stay too).
files=$(dpkg-query -L $drop | grep '^/' | sort -u)
echo "image-rootfs: keeping $(echo $keep | wc -w) packages, dropping $(echo $drop | wc -w): $(echo $drop)" >&2
# One rm for all of them (shell built-ins pick the files): per-file processes cost minutes under
# qemu when the stage runs for another architecture.
while IFS= read -r f; do
  if [ -n "$f" ] && [ ! -d "$f" ]; then printf '%s\0' "$f"; fi
done <<<"$files" | xargs -0 -r rm -f

find /etc/ssl/certs -xtype l -delete # links into the dropped ca-certificates package
test -s /etc/ssl/certs/ca-certificates.crt
rm -rf /var/lib/dpkg /var/lib/apt /var/cache/* /var/log/* /usr/share/info /usr/share/man \
  /usr/share/locale /usr/share/lintian /usr/share/bug /usr/lib/*-linux-gnu/gconv /etc/apt \
  /usr/share/debconf /var/lib/systemd
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
mkdir -p /var/lib/dpkg
mv /tmp/status /var/lib/dpkg/status
