#!/bin/sh
# liftkit's portable collector: the same snapshot.json as `liftkit collect`, from a host where
# the liftkit binary cannot run (a kernel older than Rust's minimum, another CPU architecture).
# Then run `liftkit analyze` and `liftkit build` on any machine.
#
# POSIX sh and coreutils only (cat, cp, ls, mkdir, mv, od, readlink, rm, sort, tr, uname):
# tested under dash and busybox sh. Read-only like the binary: nothing on the host is written,
# signalled or run; only the output file (and, with --bundle, its bundle directory) is created.
#
# Usage: collect.sh [-o FILE | --json] [--bundle]
#   -o FILE    where to write the snapshot (default snapshot.json), mode 0600
#   --json     print the snapshot to stdout instead
#   --bundle   also copy, into <FILE stem>.bundle/ beside it, the files the applications'
#              processes show (executables, mapped libraries, open files, paths on their
#              command lines) and /etc, the loader cache and dpkg's lists; analyze reads the
#              rest as missing and says so.
#
# Known differences from the binary: an argument or environment entry holding a newline is split
# in two; bytes that are not UTF-8 are copied as they are (the binary writes U+FFFD); rpm
# databases are not read (a finding says so); applications' live facts are not asked.

set -u
LC_ALL=C
export LC_ALL
umask 077

out=snapshot.json
bundle=0
while [ $# -gt 0 ]; do
  case $1 in
    -o|--output) [ $# -ge 2 ] || { echo "collect.sh: $1 needs a file" >&2; exit 2; }; out=$2; shift 2 ;;
    --json) out=-; shift ;;
    --bundle) bundle=1; shift ;;
    -h|--help) sed_usage=1; break ;;
    *) echo "collect.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "${sed_usage:-0}" = 1 ]; then
  while IFS= read -r l; do
    case $l in '#!'*) ;; '#'*) l=${l#\#}; printf '%s\n' "${l# }" ;; *) break ;; esac
  done < "$0"
  exit 0
fi

NL='
'
TAB='	'
findings=''   # JSON objects, one per line

# ---- JSON ---------------------------------------------------------------------------------
# js STRING: the JSON string literal, escaped as serde_json escapes (", \, control characters).
js() {
  case $1 in
    *[\"\\]*|*[[:cntrl:]]*) js_slow "$1" ;;
    *) printf '"%s"' "$1" ;;
  esac
}

# jset STRING: J becomes the JSON literal; no fork unless the string needs escaping.
jset() {
  case $1 in
    *[\"\\]*|*[[:cntrl:]]*) J=$(js_slow "$1") ;;
    *) J="\"$1\"" ;;
  esac
}

js_slow() {
  _f='"'
  for _h in $(printf '%s' "$1" | od -An -v -tx1); do
    case $_h in
      22) _f="$_f\\\\\"" ;;
      5c) _f="$_f\\\\\\\\" ;;
      0a) _f="$_f\\\\n" ;;
      09) _f="$_f\\\\t" ;;
      0d) _f="$_f\\\\r" ;;
      08) _f="$_f\\\\b" ;;
      0c) _f="$_f\\\\f" ;;
      0*|1*) _f="$_f\\\\u00$_h" ;;
      *) _v=$((0x$_h)); _f="$_f\\$((_v / 64))$((_v / 8 % 8))$((_v % 8))" ;;
    esac
  done
  printf "$_f\""
}

# finding LEVEL SUBJECT MESSAGE
finding() {
  findings="$findings{\"level\":\"$1\",\"subject\":$(js "$2"),\"message\":$(js "$3")}$NL"
}

# jarr_lines: a JSON array of the lines on stdin, as strings.
jarr_lines() {
  _sep=''
  printf '['
  while IFS= read -r _l || [ -n "$_l" ]; do
    jset "$_l"
    printf '%s%s' "$_sep" "$J"
    _sep=','
  done
  printf ']'
}

# nul_list FILE: the NUL-separated entries of FILE (cmdline, environ) as a JSON array.
nul_list() {
  tr '\000' '\n' < "$1" | jarr_lines
}

# ---- host ---------------------------------------------------------------------------------
unquote() {
  case $1 in
    \'*\') _u=${1#\'}; printf '%s' "${_u%\'}" ;;
    \"*\")
      _u=${1#\"}; _u=${_u%\"}; _o=''
      while [ -n "$_u" ]; do
        case $_u in
          \\[\"\\\$\`]*) _u=${_u#?}; _o="$_o${_u%"${_u#?}"}"; _u=${_u#?} ;;
          *) _o="$_o${_u%"${_u#?}"}"; _u=${_u#?} ;;
        esac
      done
      printf '%s' "$_o" ;;
    *) printf '%s' "$1" ;;
  esac
}

os_release() {
  _file=/etc/os-release
  [ -r "$_file" ] || _file=/usr/lib/os-release
  if [ ! -r "$_file" ]; then
    finding warning /etc/os-release "neither it nor /usr/lib/os-release could be read: distribution unknown"
    printf '{}'
    return
  fi
  while IFS= read -r _l || [ -n "$_l" ]; do
    _l=$(trim "$_l")
    case $_l in '#'*|*=*) ;; *) continue ;; esac
    case $_l in '#'*) continue ;; esac
    _k=$(trim "${_l%%=*}"); _v=$(trim "${_l#*=}")
    printf '%s\t%s\n' "$_k" "$(unquote "$_v")"
  done < "$_file" | sort -t "$TAB" -k1,1 -u | {
    _sep=''; printf '{'
    while IFS="$TAB" read -r _k _v; do printf '%s%s:%s' "$_sep" "$(js "$_k")" "$(js "$_v")"; _sep=','; done
    printf '}'
  }
}

trim() {
  tset "$1"
  printf '%s' "$T"
}

# tset STRING: T becomes STRING without leading and trailing white space, without a fork.
tset() {
  T=$1
  while :; do case $T in [[:space:]]*) T=${T#?} ;; *) break ;; esac; done
  while :; do case $T in *[[:space:]]) T=${T%?} ;; *) break ;; esac; done
}

cpu_level() {
  [ "$(uname -m)" = x86_64 ] || { printf 0; return; }
  _flags=''
  while IFS= read -r _l; do
    case $_l in flags*:*) _flags=" ${_l#*:} "; break ;; esac
  done < /proc/cpuinfo
  [ -n "$_flags" ] || { printf 0; return; }
  _level=1
  for _set in "cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3" "avx avx2 bmi1 bmi2 f16c fma abm movbe xsave" "avx512f avx512bw avx512cd avx512dq avx512vl"; do
    for _f in $_set; do
      case $_flags in *[[:space:]]"$_f"[[:space:]]*) ;; *) printf '%s' "$_level"; return ;; esac
    done
    _level=$((_level + 1))
  done
  printf '%s' "$_level"
}

sysctls() {
  _sep=''
  printf '{'
  for _name in fs.file-max kernel.shmmax net.core.somaxconn net.ipv4.ip_forward net.ipv4.ip_local_port_range net.ipv4.tcp_max_syn_backlog transparent_hugepage vm.overcommit_memory vm.swappiness; do
    case $_name in
      transparent_hugepage) _p=/sys/kernel/mm/transparent_hugepage/enabled ;;
      *) _p=/proc/sys/$(printf '%s' "$_name" | tr . /) ;;
    esac
    [ -r "$_p" ] || continue
    _v=$(cat "$_p" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    set -- $_v
    printf '%s%s:%s' "$_sep" "$(js "$_name")" "$(js "$*")"
    _sep=','
  done
  printf '}'
}

# IPv4 addresses of the interfaces, with the prefix of the route that reaches them.
addresses() {
  _locals=''
  _last=''
  if [ -r /proc/net/fib_trie ]; then
    while IFS= read -r _l; do
      case $_l in
        *'|-- '*) _last=${_l##*-- } ;;
        *'/32 host LOCAL'*) _locals="$_locals $_last" ;;
      esac
    done < /proc/net/fib_trie
  fi
  for _a in $_locals; do
    case $_a in 127.*) continue ;; esac
    _ip=$(ip4_num "$_a")
    _best=32
    _bestlen=-1
    while read -r _if _dst _gw _fl _rc _use _met _mask _rest; do
      case $_dst in Destination) continue ;; esac
      _m=$(le_hex_ip_num "$_mask"); _d=$(le_hex_ip_num "$_dst")
      [ "$_m" -ne 0 ] || continue
      if [ $((_ip & _m)) -eq "$_d" ]; then
        _len=$(bits "$_m")
        if [ "$_len" -gt "$_bestlen" ]; then _bestlen=$_len; _best=$_len; fi
      fi
    done < /proc/net/route
    printf '%s/%s\n' "$_a" "$_best"
  done | sort -u | jarr_lines
}

ip4_num() {
  _IFS=$IFS; IFS=.; set -- $1; IFS=$_IFS
  printf '%s' $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 ))
}

# /proc/net/route writes addresses as little-endian hex words.
le_hex_ip_num() {
  _x=$1
  _b4=${_x%??????}; _r=${_x#??}; _b3=${_r%????}; _r=${_r#??}; _b2=${_r%??}; _b1=${_r#??}
  printf '%s' $(( (0x$_b1 << 24) | (0x$_b2 << 16) | (0x$_b3 << 8) | 0x$_b4 ))
}

bits() {
  _n=$1; _c=0
  while [ "$_n" -ne 0 ]; do _c=$((_c + (_n & 1))); _n=$((_n >> 1)); done
  printf '%s' "$_c"
}

# ---- accounts and packages ----------------------------------------------------------------
accounts() { # FILE FIELDS KIND
  _file=$1; _want=$2; _kind=$3
  if [ ! -r "$_file" ]; then
    finding warning "$_file" "could not be read: No such file or directory (os error 2)"
    printf '[]'
    return
  fi
  _sep=''; _n=0
  printf '['
  while IFS= read -r _l || [ -n "$_l" ]; do
    _n=$((_n + 1))
    case $_l in '#'*|'+'*|'-'*) continue ;; esac
    [ -n "$(trim "$_l")" ] || continue
    _IFS=$IFS; IFS=:; set -f; set -- $_l''; set +f; IFS=$_IFS
    # A trailing empty field is lost to splitting: count the colons instead.
    _colons=$(printf '%s' "$_l" | tr -cd : | wc -c)
    if [ $((_colons + 1)) -ne "$_want" ] || [ -z "$1" ] || ! isnum "$3" || { [ "$_kind" = user ] && ! isnum "$4"; }; then
      finding warning "$_file:$_n" "malformed entry skipped"
      continue
    fi
    if [ "$_kind" = user ]; then
      printf '%s{"name":%s,"uid":%s,"gid":%s,"home":%s,"shell":%s,"line":%s}' "$_sep" "$(js "$1")" "$3" "$4" "$(js "${6-}")" "$(js "${7-}")" "$(js "$_l")"
    else
      _members=$(printf '%s' "${4-}" | tr , '\n' | while IFS= read -r _m || [ -n "$_m" ]; do _m=$(trim "$_m"); [ -n "$_m" ] && printf '%s\n' "$_m"; done | jarr_lines)
      printf '%s{"name":%s,"gid":%s,"members":%s,"line":%s}' "$_sep" "$(js "$1")" "$3" "$_members" "$(js "$_l")"
    fi
    _sep=','
  done < "$_file"
  printf ']'
}

isnum() {
  case $1 in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac
}

# dpkg's status: fully installed packages, sorted by name and architecture.
packages() {
  _st=/var/lib/dpkg/status
  if [ ! -r "$_st" ]; then
    finding info "$_st" "no dpkg status and no rpm database: packages not inventoried"
    printf '[]'
    return
  fi
  [ -d /var/lib/rpm ] && [ -n "$(ls /var/lib/rpm 2>/dev/null)" ] && finding info /var/lib/rpm "rpm database not read by collect.sh: run liftkit collect where it can run"
  {
    _p=''; _v=''; _a=''; _s=''; _k=0; _src=''
    emit() {
      # Source last: an empty field at the end survives `read`'s whitespace splitting.
      case $_s in "install ok installed") [ -n "$_p" ] && printf '%s\t%s\t%s\t%s\t%s\n' "$_p" "$_a" "$_v" "$_k" "$_src" ;; esac
      _p=''; _v=''; _a=''; _s=''; _k=0; _src=''
    }
    while IFS= read -r _l || [ -n "$_l" ]; do
      case $_l in
        '') emit; continue ;;
        [[:space:]]*) continue ;;
        [Pp][Aa][Cc][Kk][Aa][Gg][Ee]:*) tset "${_l#*:}"; _p=$T ;;
        [Vv][Ee][Rr][Ss][Ii][Oo][Nn]:*) tset "${_l#*:}"; _v=$T ;;
        [Aa][Rr][Cc][Hh][Ii][Tt][Ee][Cc][Tt][Uu][Rr][Ee]:*) tset "${_l#*:}"; _a=$T ;;
        [Ss][Tt][Aa][Tt][Uu][Ss]:*) set -- ${_l#*:}; _s="$*" ;;
        [Ss][Oo][Uu][Rr][Cc][Ee]:*) tset "${_l#*:}"; _src=$T ;;
        [Ii][Nn][Ss][Tt][Aa][Ll][Ll][Ee][Dd]-[Ss][Ii][Zz][Ee]:*) tset "${_l#*:}"; isnum "$T" && _k=$T ;;
      esac
    done < "$_st"
    emit
  } | sort -t "$TAB" -k1,1 -k2,2 | {
    _sep=''; printf '['
    while IFS="$TAB" read -r _p _a _v _k _src; do
      jset "$_p"; _jp=$J; jset "$_v"; _jv=$J; jset "$_src"; _js=$J; jset "$_a"
      printf '%s{"name":%s,"version":%s,"arch":%s,"installed_kib":%s,"source":%s}' "$_sep" "$_jp" "$_jv" "$J" "$_k" "$_js"
      _sep=','
    done
    printf ']'
  }
}

# ---- processes ----------------------------------------------------------------------------
unit_from_cgroup() { # FILE
  _unit=''
  for _want in '' 'name=systemd'; do
    while IFS=: read -r _h _c _p; do
      [ "$_c" = "$_want" ] || continue
      _rest=$_p
      while [ -n "$_rest" ]; do
        _comp=${_rest##*/}
        case $_comp in ?*.service) [ "$_comp" != .service ] && { _unit=$_comp; break 3; } ;; esac
        [ "$_rest" = "${_rest%/*}" ] && break
        _rest=${_rest%/*}
      done
    done < "$1"
  done
  if [ -n "$_unit" ]; then js "$_unit"; else printf null; fi
}

limits() { # FILE
  _sep=''
  printf '{'
  while IFS= read -r _l; do
    case $_l in 'Limit '*|'') continue ;; esac
    _name=${_l%%  *}
    _rest=${_l#"$_name"}
    set -- $_rest
    _s=$1; _hd=$2
    [ "$_s" = unlimited ] && _s=null
    [ "$_hd" = unlimited ] && _hd=null
    printf '%s\t%s\t%s\n' "$_name" "$_s" "$_hd"
  done < "$1" | sort -t "$TAB" -k1,1 | {
    while IFS="$TAB" read -r _n _s _hd; do printf '%s%s:[%s,%s]' "$_sep" "$(js "$_n")" "$_s" "$_hd"; _sep=','; done
  }
  printf '}'
}

# fds PID: every descriptor's target from one `ls -l`; unreadable links counted as the binary
# counts them.
fds() {
  _sep=''
  printf '['
  ls -l "/proc/$1/fd" 2>/dev/null | while IFS= read -r _l; do
    case $_l in *' -> '*) ;; *) continue ;; esac
    _t=${_l#* -> }; _n=${_l%% -> *}; _n=${_n##* }
    jset "$_t"
    # The open flags as fdinfo shows them (octal), as the binary records them.
    _fl=
    while IFS= read -r _i; do
      case $_i in flags:*) _fl=$(printf '%07o' "${_i#flags:*[!0-9]}") ;; esac
    done < "/proc/$1/fdinfo/$_n" 2>/dev/null
    printf '%s\t%s\t%s\n' "$_n" "$J" "$_fl"
  done | sort -n | {
    while IFS="$TAB" read -r _n _j _fl; do
      if [ -n "$_fl" ]; then
        printf '%s{"fd":%s,"target":%s,"flags":"%s"}' "$_sep" "$_n" "$_j" "$_fl"
      else
        printf '%s{"fd":%s,"target":%s}' "$_sep" "$_n" "$_j"
      fi
      _sep=','
    done
  }
  printf ']'
}

# fd_problems PID: what the binary would list in `unreadable` for the descriptors.
fd_problems() {
  if ! ls "/proc/$1/fd" >/dev/null 2>&1; then
    note_unreadable "fds: permission denied"
    return
  fi
  _denied=$(ls -l "/proc/$1/fd" 2>&1 >/dev/null | while IFS= read -r _l; do case $_l in *'Permission denied'*) printf x ;; esac; done)
  [ -n "$_denied" ] && note_unreadable "fds: permission denied for ${#_denied} descriptors"
}

maps() { # PID
  while read -r _a _p _o _d _i _path; do
    case $_path in /*) ;; *) continue ;; esac
    _path=${_path% (deleted)}
    case $_path in /memfd:*|/\[*|/SYSV*|/dev/zero) continue ;; esac
    printf '%s\n' "$_path"
  done 2>/dev/null < "/proc/$1/maps" | sort -u | jarr_lines
}

status_field() { # FILE KEY → the values after "KEY:"
  while IFS= read -r _l; do
    case $_l in "$2:"*) printf '%s' "${_l#*:}"; return ;; esac
  done < "$1"
}

# Ticks of the kernel's clock per second, as procfs counts CPU time and start times.
TICKS=$(getconf CLK_TCK 2>/dev/null) || TICKS=100
case $TICKS in ''|*[!0-9]*|0) TICKS=100 ;; esac

kib_of() { # FILE KEY → the number of KiB after "KEY:", 0 when absent or unreadable
  _v=$(status_field "$1" "$2" 2>/dev/null)
  set -- $_v
  case ${1:-} in ''|*[!0-9]*) printf 0 ;; *) printf '%s' "$1" ;; esac
}

# usage DIR CPU_TICKS START_TICKS: what the process used, as the binary records it (memory
# resident and proportional, CPU time, age), for the resources its plan is sized from.
usage() {
  _rss=$(kib_of "$1/status" VmRSS)
  _pss=0
  [ -r "$1/smaps_rollup" ] && _pss=$(kib_of "$1/smaps_rollup" Pss)
  _up=$(cat /proc/uptime 2>/dev/null); _up=${_up%% *}
  _upms=0
  case $_up in
    *.*) _f=${_up#*.}00; _f=${_f%"${_f#??}"}; _upms=$(( ${_up%%.*} * 1000 + ${_f#0} * 10 )) ;;
    ?*) _upms=$(( _up * 1000 )) ;;
  esac
  _age=$(( _upms - $3 * 1000 / TICKS )); [ "$_age" -lt 0 ] && _age=0
  _cpu=$(( $2 * 1000 / TICKS ))
  if [ "$_rss$_pss$_cpu$_age" = 0000 ]; then return; fi
  printf ',"usage":{"rss_kib":%s,"pss_kib":%s,"cpu_ms":%s,"age_ms":%s}' "$_rss" "$_pss" "$_cpu" "$_age"
}

unreadable=''
note_unreadable() { unreadable="$unreadable$1$NL"; }

# Why a link could not be read, in the binary's words.
note_link() { # PATH WHAT
  if [ -e "$1" ] || [ -L "$1" ]; then note_unreadable "$2: permission denied"; else note_unreadable "$2: not available"; fi
}

# process PID: one process object, or nothing for kernel threads, zombies and the vanished.
process() {
  _pid=$1; _d=/proc/$_pid
  IFS= read -r _stat 2>/dev/null < "$_d/stat" || { finding warning "pid $_pid" "exited during the scan"; return 1; }
  _comm=${_stat#*\(}; _comm=${_comm%\)*}
  _after=${_stat##*\)}
  set -- $_after
  _state=$1; _ppid=$2; _flags=$7; _utime=${12}; _stime=${13}
  shift 19; _start=$1
  if [ $((_flags & 0x200000)) -ne 0 ] || [ "$_pid" = 2 ] || [ "$_ppid" = 2 ]; then return 1; fi
  case $_state in Z|X) return 1 ;; esac
  unreadable=''
  _uids=$(status_field "$_d/status" Uid); _gids=$(status_field "$_d/status" Gid)
  _groups=$(status_field "$_d/status" Groups); _cap=$(status_field "$_d/status" CapEff)
  set -- $_uids; _uids="$1,$2,$3,$4"
  set -- $_gids; _gids="$1,$2,$3,$4"
  _cap=$(trim "$_cap")
  _glist=''; for _g in $_groups; do _glist="$_glist${_glist:+,}$_g"; done
  _cgroup=''
  if _cg=$(cat "$_d/cgroup" 2>/dev/null); then _cgroup="$_cg$NL"; else note_unreadable "cgroup: permission denied"; fi
  if _env=$(nul_list "$_d/environ" 2>/dev/null) && [ -r "$_d/environ" ] && cat "$_d/environ" >/dev/null 2>&1; then :; else _env='[]'; note_unreadable "environ: permission denied"; fi
  _exe=null
  if ! _e=$(readlink "$_d/exe" 2>/dev/null); then
    note_link "$_d/exe" exe
  else
    _exe=$(js "$_e")
    case $_e in
      /memfd:*) ;;
      *' (deleted)') _exe=$(js "${_e% (deleted)}") ;;
    esac
  fi
  if cat "$_d/cmdline" >/dev/null 2>&1; then _cmd=$(nul_list "$_d/cmdline"); else _cmd='[]'; note_unreadable "cmdline: permission denied"; fi
  _cwd=null
  if _c=$(readlink "$_d/cwd" 2>/dev/null); then _cwd=$(js "$_c"); else note_link "$_d/cwd" cwd; fi
  _fds=$(fds "$_pid")
  fd_problems "$_pid"
  if cat "$_d/maps" >/dev/null 2>&1; then _maps=$(maps "$_pid"); else _maps='[]'; note_unreadable "maps: permission denied"; fi
  if cat "$_d/limits" >/dev/null 2>&1; then _lim=$(limits "$_d/limits"); else _lim='{}'; note_unreadable "limits: permission denied"; fi
  _usage=$(usage "$_d" $((_utime + _stime)) "$_start")
  jset "$_comm"; _jcomm=$J
  jset "$_cgroup"; _jcg=$J
  _body=$(printf '{"pid":%s,"ppid":%s,"comm":%s,"exe":%s,"cmdline":%s,"cwd":%s,"environ":%s,"uids":[%s],"gids":[%s],"groups":[%s],"unit":%s,"cgroup":%s,"start_time":%s,"fds":%s,"maps":%s,"limits":%s,"cap_eff":%s' \
    "$_pid" "$_ppid" "$_jcomm" "$_exe" "$_cmd" "$_cwd" "$_env" \
    "$_uids" "$_gids" "$_glist" "$(unit_from_cgroup "$_d/cgroup")" "$_jcg" "$_start" \
    "$_fds" "$_maps" "$_lim" "$((0x$_cap))")
  [ -d "$_d" ] || { finding warning "pid $_pid" "exited during the scan"; return 1; }
  printf '%s%s,"unreadable":%s}' "$_body" "$_usage" "$(printf '%s' "$unreadable" | jarr_lines)"
}

# ---- sockets ------------------------------------------------------------------------------
hex_v4() { # 0100007F → 127.0.0.1
  _x=$1
  _b4=${_x%??????}; _r=${_x#??}; _b3=${_r%????}; _r=${_r#??}; _b2=${_r%??}; _b1=${_r#??}
  printf '%s.%s.%s.%s' $((0x$_b1)) $((0x$_b2)) $((0x$_b3)) $((0x$_b4))
}

hex_v6() { # 32 hex digits, four little-endian words → RFC 5952 text, as Rust writes it
  _x=$1; _bytes=''
  for _w in 1 2 3 4; do
    _word=${_x%"${_x#????????}"}; _x=${_x#????????}
    _a=${_word%??????}; _r=${_word#??}; _b=${_r%????}; _r=${_r#??}; _c=${_r%??}; _dd=${_r#??}
    _bytes="$_bytes $_dd $_c $_b $_a"
  done
  set -- $_bytes
  _groups=''
  while [ $# -gt 0 ]; do _groups="$_groups $(( (0x$1 << 8) | 0x$2 ))"; shift 2; done
  set -- $_groups
  if [ "$1$2$3$4$5" = 00000 ] && [ "$6" = 65535 ]; then
    printf '::ffff:%s.%s.%s.%s' $(($7 >> 8)) $(($7 & 255)) $(($8 >> 8)) $(($8 & 255))
    return
  fi
  # The longest run of zero groups (two or more, leftmost on a tie) becomes "::".
  _i=0; _bs=-1; _bl=0; _cs=-1; _cl=0
  for _g in "$@"; do
    if [ "$_g" -eq 0 ]; then
      [ "$_cs" -lt 0 ] && _cs=$_i
      _cl=$((_cl + 1))
      if [ "$_cl" -gt "$_bl" ]; then _bl=$_cl; _bs=$_cs; fi
    else
      _cs=-1; _cl=0
    fi
    _i=$((_i + 1))
  done
  [ "$_bl" -ge 2 ] || _bs=-1
  _i=0; _s=''
  for _g in "$@"; do
    if [ "$_bs" -ge 0 ] && [ "$_i" -ge "$_bs" ] && [ "$_i" -lt $((_bs + _bl)) ]; then
      [ "$_i" -eq "$_bs" ] && _s="$_s::"
    else
      case $_s in ''|*:) ;; *) _s="$_s:" ;; esac
      _s="$_s$(printf '%x' "$_g")"
    fi
    _i=$((_i + 1))
  done
  printf '%s' "$_s"
}

# Every socket inode a process holds, as "inode pid" lines.
holders() {
  ls -l /proc/[0-9]*/fd 2>/dev/null | while IFS= read -r _l; do
    case $_l in
      /proc/*/fd:) _p=${_l#/proc/}; _p=${_p%/fd:} ;;
      *' -> socket:['*']') _i=${_l##*socket:[}; printf '%s %s\n' "${_i%]}" "$_p" ;;
    esac
  done | sort -u
}

# table lines: PROTO STATE-FILTER → "proto port address inode uid local remote state"
net_table() {
  for _proto in tcp tcp6 udp udp6; do
    [ -r "/proc/net/$_proto" ] || continue
    while read -r _sl _local _remote _st _q _t _re _uid _to _inode _rest; do
      case $_sl in sl) continue ;; esac
      _lh=${_local%:*}; _lp=$((0x${_local#*:}))
      _rh=${_remote%:*}; _rp=$((0x${_remote#*:}))
      case $_proto in
        *6) _la=$(hex_v6 "$_lh"); _ra=$(hex_v6 "$_rh") ;;
        *) _la=$(hex_v4 "$_lh"); _ra=$(hex_v4 "$_rh") ;;
      esac
      printf '%s %s %s %s %s %s %s %s\n' "$_proto" "$_lp" "$_la" "$_inode" "$_uid" "$_st" "$_ra" "$_rp"
    done < "/proc/net/$_proto"
  done
}

endpoint() { # ADDRESS PORT, with IPv4-mapped addresses shown as IPv4
  case $1 in
    ::ffff:*.*) printf '%s:%s' "${1#::ffff:}" "$2" ;;
    *:*) printf '[%s]:%s' "$1" "$2" ;;
    *) printf '%s:%s' "$1" "$2" ;;
  esac
}

sockets_and_connections() { # writes $tmp/sockets.json and $tmp/connections.json
  holders > "$tmp/holders"
  net_table > "$tmp/net"
  _sep=''
  {
    printf '['
    sort -t ' ' -k1,1 -k2,2n -k3,3 -k4,4n "$tmp/net" | while read -r _proto _port _addr _inode _uid _st _ra _rp; do
      case $_proto:$_st in tcp*:0A) ;; udp*:01) continue ;; udp*) ;; *) continue ;; esac
      _pids=$(while read -r _i _p; do [ "$_i" = "$_inode" ] && printf '%s\n' "$_p"; done < "$tmp/holders" | sort -n -u | tr '\n' , )
      _pids=${_pids%,}
      if [ -z "$_pids" ]; then
        _proto_s=$_proto
        printf '%s\n' "$_proto_s $(case $_addr in *:*) printf '[%s]:%s' "$_addr" "$_port" ;; *) printf '%s:%s' "$_addr" "$_port" ;; esac)" >> "$tmp/unheld"
      fi
      printf '%s{"proto":"%s","address":%s,"port":%s,"inode":%s,"uid":%s,"pids":[%s]}' "$_sep" "$_proto" "$(js "$_addr")" "$_port" "$_inode" "$_uid" "$_pids"
      _sep=','
    done
    printf ']'
  } > "$tmp/sockets.json"
  while read -r _proto _port _addr _inode _uid _st _ra _rp; do
    case $_proto:$_st in tcp*:01) ;; *) continue ;; esac
    while read -r _i _p; do
      [ "$_i" = "$_inode" ] && printf '%s\t%s\t%s\n' "$_p" "$(endpoint "$_ra" "$_rp")" "$(endpoint "$_addr" "$_port")"
    done < "$tmp/holders"
  done < "$tmp/net" | sort -t "$TAB" -k1,1n -k2,2 -k3,3 -u | {
    _sep=''; printf '['
    while IFS="$TAB" read -r _p _r _l; do printf '%s{"pid":%s,"local":%s,"remote":%s}' "$_sep" "$_p" "$(js "$_l")" "$(js "$_r")"; _sep=','; done
    printf ']'
  } > "$tmp/connections.json"
}

# ---- capacity -----------------------------------------------------------------------------
# The memory and the filesystems on block devices (one per device), to set a lifted app's size
# against the machine it leaves: MemTotal, and df's blocks and used (blocks - free), as statvfs.
capacity() {
  _mem=0
  while read -r _k _v _u; do [ "$_k" = MemTotal: ] && _mem=$_v; done < /proc/meminfo 2>/dev/null
  _fs='' _seen=' '
  while read -r _dev _mnt _rest; do
    case $_dev in /dev/*) ;; *) continue ;; esac
    case $_seen in *" $_dev "*) continue ;; esac
    _seen="$_seen$_dev "
    # /proc/self/mounts writes a space in a path as \040 (octal), as %b reads it.
    _mnt=$(printf '%b' "$(printf '%s' "$_mnt" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')")
    _df=$(df -P -k "$_mnt" 2>/dev/null | tail -n 1) || continue
    set -- $_df
    [ $# -ge 3 ] && isnum "$2" && isnum "$3" || continue
    _fs="$_fs${_fs:+,}{\"device\":$(js "$_dev"),\"mount\":$(js "$_mnt"),\"size_bytes\":$(($2 * 1024)),\"used_bytes\":$(($3 * 1024))}"
  done < /proc/self/mounts
  printf '{"memory_kib":%s,"filesystems":[%s]}' "$_mem" "$_fs"
}

# ---- bundle -------------------------------------------------------------------------------
copy_into_bundle() { # PATH
  case $1 in /proc/*|/sys/*|/dev/*|'') return ;; esac
  [ -e "$1" ] || [ -L "$1" ] || return
  cp -a --parents "$1" "$bundle_dir/" 2>/dev/null || finding warning "$1" "could not be copied into the bundle"
}

# Directories a configuration names are copied up to this size (KiB); larger ones are a finding.
BUNDLE_DIR_MAX_KIB=${BUNDLE_DIR_MAX_KIB:-262144}

# path_words FILE: the absolute paths a configuration file names (nginx's `root /srv/www;`, an
# include), one per line. Programs and files over 1 MiB are not configurations.
path_words() {
  [ -f "$1" ] && [ ! -x "$1" ] || return 0
  _sz=$(wc -c < "$1" 2>/dev/null) || return 0
  [ "$_sz" -le 1048576 ] || return 0
  tr -s ' \t;,"=()[]{}<>' '\n\n\n\n\n\n\n\n\n\n\n\n\n' < "$1" 2>/dev/null | tr -d "'" |
    while IFS= read -r _t; do case $_t in /?*) printf '%s\n' "$_t" ;; esac; done
}

# copy_named PATH: what a configuration names, as the plans read it: a file, or a directory of
# the app's own (not one of the system's) up to BUNDLE_DIR_MAX_KIB.
copy_named() {
  case $1 in
    /|/bin|/boot|/dev|/dev/*|/etc|/home|/lib|/lib32|/lib64|/opt|/proc|/proc/*|/root|/run|/sbin|\
    /srv|/sys|/sys/*|/tmp|/usr|/usr/*bin|/usr/lib|/usr/lib64|/usr/libexec|/usr/local|/usr/share|\
    /var|/var/lib|/var/log|/var/run|/var/tmp) return ;;
  esac
  if [ -d "$1" ] && [ ! -L "$1" ]; then
    _kib=$(du -sk "$1" 2>/dev/null); _kib=${_kib%%[!0-9]*}
    if [ "${_kib:-0}" -gt "$BUNDLE_DIR_MAX_KIB" ]; then
      finding warning "$1" "named by a configuration but not in the bundle: ${_kib} KiB, over BUNDLE_DIR_MAX_KIB=$BUNDLE_DIR_MAX_KIB"
      return
    fi
  fi
  copy_into_bundle "$1"
}

# links_under DIR: every symbolic link below DIR, one per line (find(1) is not coreutils).
links_under() {
  for _e in "$1"/* "$1"/.[!.]*; do
    if [ -L "$_e" ]; then printf '%s\n' "$_e"
    elif [ -d "$_e" ]; then links_under "$_e"
    fi
  done
}

write_bundle() {
  bundle_dir=$1
  mkdir -p "$bundle_dir"
  for _p in /etc /etc/ld.so.cache /var/lib/dpkg/status /var/lib/dpkg/info; do copy_into_bundle "$_p"; done
  # A merged /usr's top-level links, so paths through /lib resolve in the bundle as on the host.
  for _p in /bin /sbin /lib /lib32 /lib64 /libx32; do [ -L "$_p" ] && copy_into_bundle "$_p"; done
  # What /etc's links point at outside it (/etc/localtime, /etc/os-release): a program reads
  # the target through the link.
  links_under /etc > "$tmp/etc-links"
  while IFS= read -r _l; do
    _t=$(readlink -f "$_l" 2>/dev/null) || continue
    case $_t in /etc/*) continue ;; esac
    [ -f "$_t" ] && copy_into_bundle "$_t"
  done < "$tmp/etc-links"
  # The name service modules nsswitch.conf names (libnss_<service>.so.2): a process loads one
  # only when it first looks a name up, which the snapshot may not have seen.
  if [ -f /etc/nsswitch.conf ]; then
    while IFS= read -r _l; do
      case $_l in \#*|'') continue ;; esac
      for _svc in ${_l#*:}; do
        case $_svc in \[*|files|compat|dns) continue ;; esac
        for _m in /lib/*/libnss_"$_svc".so.2 /usr/lib/*/libnss_"$_svc".so.2 /lib64/libnss_"$_svc".so.2 /usr/lib64/libnss_"$_svc".so.2; do
          [ -e "$_m" ] && copy_into_bundle "$_m" && copy_into_bundle "$(readlink -f "$_m")"
        done
      done
    done < /etc/nsswitch.conf
  fi
  # The applications' processes, as liftkit finds them: holding a listening socket, or started
  # by a service unit.
  _apps=$(while read -r _proto _port _addr _inode _uid _st _ra _rp; do
      case $_proto:$_st in tcp*:0A|udp*:07) ;; *) continue ;; esac
      while read -r _i _p; do [ "$_i" = "$_inode" ] && printf ' %s ' "$_p"; done < "$tmp/holders"
    done < "$tmp/net")
  for _pd in /proc/[0-9]*; do
    _p=${_pd#/proc/}
    [ "$_p" = "$$" ] && continue
    case $_apps in *" $_p "*) ;; *)
      [ "$(unit_from_cgroup "$_pd/cgroup" 2>/dev/null)" != null ] || continue ;;
    esac
    _e=$(readlink "$_pd/exe" 2>/dev/null) || continue
    copy_into_bundle "$_e"
    printf '%s\n' "$_e" >> "$tmp/elves"
    while read -r _a _pm _o _d _i _path; do
      case $_path in /*) ;; *) continue ;; esac
      _path=${_path% (deleted)}
      copy_into_bundle "$_path"
      case $_path in *.so*) printf '%s\n' "$_path" >> "$tmp/elves" ;; esac
    done < "$_pd/maps" 2>/dev/null
    for _f in "$_pd"/fd/*; do
      _t=$(readlink "$_f" 2>/dev/null) || continue
      case $_t in /*) [ -f "$_t" ] && copy_into_bundle "$_t" ;; esac
    done
    # Words of the command line that are paths (a rewritten title such as nginx's
    # "nginx: master process /usr/sbin/nginx -c /etc/x.conf" is one argument of many words).
    tr '\000' '\n' < "$_pd/cmdline" 2>/dev/null | while IFS= read -r _arg; do
      set -f
      for _w in $_arg; do case $_w in /*) copy_into_bundle "$_w"; printf '%s\n' "$_w" >> "$tmp/named1" ;; esac; done
      set +f
    done
  done
  # The loader finds a library by its soname (libz.so.1), a link beside the file the process
  # mapped (libz.so.1.2.13); glibc loads libgcc_s.so.1 from beside libc to unwind a thread.
  : >> "$tmp/elves"
  sort -u "$tmp/elves" > "$tmp/elves.sorted"
  while IFS= read -r _lib; do
    _dir=${_lib%/*}; _base=${_lib##*/}
    case $_base in
      *.so.*)
        _stem=${_base%%.so.*}.so; _ver=${_base#*.so.}
        _try=$_stem
        while :; do
          _try=$_try.${_ver%%.*}
          [ -L "$_dir/${_try##*/}" ] && copy_into_bundle "$_dir/${_try##*/}"
          case $_ver in *.*) _ver=${_ver#*.} ;; *) break ;; esac
        done ;;
    esac
    case $_base in libc.so.6) [ -e "$_dir/libgcc_s.so.1" ] && copy_into_bundle "$_dir/libgcc_s.so.1" ;; esac
  done < "$tmp/elves.sorted"
  # Data paths written into the programs and libraries (OpenSSL's /usr/lib/ssl): the printable
  # runs of each ELF file that are absolute paths under /usr/lib, /usr/share or /var/lib, as
  # `strings` would show them; taken when they are data files up to 1 MiB (no programs), or
  # directories up to 1 MiB.
  while IFS= read -r _elf; do
    tr -c '[:print:]' '[\n*]' < "$_elf" 2>/dev/null | sort -u > "$tmp/literals"
    while IFS= read -r _w; do
      case $_w in /usr/lib/?*|/usr/share/?*|/var/lib/?*) ;; *) continue ;; esac
      case $_w in *[!A-Za-z0-9._/-]*) continue ;; esac
      case $_w in *//*|*/../*) continue ;; esac
      if [ -f "$_w" ]; then
        [ -x "$_w" ] && continue
        _sz=$(wc -c < "$_w" 2>/dev/null) || continue
        [ "$_sz" -le 1048576 ] && copy_named "$_w"
      elif [ -d "$_w" ] && [ ! -L "$_w" ]; then
        # Counted before measured: du of a system library directory is slow.
        [ "$(ls -A "$_w" 2>/dev/null | wc -l)" -le 64 ] || continue
        _kib=$(du -sk "$_w" 2>/dev/null); _kib=${_kib%%[!0-9]*}
        [ "${_kib:-2048}" -le 1024 ] && copy_named "$_w"
      fi
    done < "$tmp/literals"
  done < "$tmp/elves.sorted"
  # What those configurations name, and what the files they name name in turn (includes): the
  # document root a web server serves is in no descriptor and on no command line.
  : >> "$tmp/named1"
  # Files, not pipes, feed the loops: a finding made in a pipeline's subshell would be lost.
  for _level in 1 2; do
    : > "$tmp/named$((_level + 1))"
    sort -u "$tmp/named$_level" > "$tmp/named.sorted"
    while IFS= read -r _c; do
      path_words "$_c" > "$tmp/words"
      while IFS= read -r _w; do
        # An include may be a glob (`include /etc/nginx/conf.d/*.conf`).
        for _g in $_w; do
          [ -e "$_g" ] || [ -L "$_g" ] || continue
          copy_named "$_g"
          if [ -f "$_g" ]; then printf '%s\n' "$_g" >> "$tmp/named$((_level + 1))"; fi
        done
      done < "$tmp/words"
    done < "$tmp/named.sorted"
  done
}

# ---- the snapshot -------------------------------------------------------------------------
tmp=$(mktemp -d 2>/dev/null || { d=/tmp/collect.sh.$$; mkdir -m 700 "$d" && printf '%s' "$d"; }) || exit 2
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/unheld"

{
  _sep=''
  printf '['
  for _pid in $(ls /proc | while read -r _n; do isnum "$_n" && printf '%s\n' "$_n"; done | sort -n); do
    _obj=$(process "$_pid") || continue
    [ -n "$_obj" ] || continue
    printf '%s%s' "$_sep" "$_obj"
    _sep=','
  done
  printf ']'
} > "$tmp/processes.json"
# Findings gathered in the subshells above are lost with them: collect them again, cheaply.
for _pd in /proc/[0-9]*; do
  _e=$(readlink "$_pd/exe" 2>/dev/null) || continue
  case $_e in
    /memfd:*) finding warning "pid ${_pd#/proc/}" "runs an in-memory executable (memfd) with no file on disk" ;;
    *' (deleted)') finding warning "pid ${_pd#/proc/}" "runs ${_e% (deleted)}, which was deleted or replaced on disk since it started" ;;
  esac
done
sockets_and_connections
while read -r _proto _ep; do
  finding info "$_proto $_ep" "held by no process whose descriptors could be read"
done < "$tmp/unheld"

# Each part is written to a file by a function running in this shell, so its findings are kept.
os_release > "$tmp/os.json"
sysctls > "$tmp/sysctls.json"
addresses > "$tmp/addresses.json"
accounts /etc/passwd 7 user > "$tmp/users.json"
accounts /etc/group 4 group > "$tmp/groups.json"
packages > "$tmp/packages.json"
capacity > "$tmp/capacity.json"
host_json=$(printf '{"hostname":%s,"os_release":%s,"kernel":%s,"arch":%s,"boot_cmdline":%s,"sysctls":%s,"cpu_level":%s,"addresses":%s}' \
  "$(js "$(uname -n)")" "$(cat "$tmp/os.json")" "$(js "$(uname -r)")" "$(js "$(uname -m)")" \
  "$(js "$(trim "$(cat /proc/cmdline 2>/dev/null)")")" "$(cat "$tmp/sysctls.json")" "$(cpu_level)" "$(cat "$tmp/addresses.json")")
users_json=$(cat "$tmp/users.json")
groups_json=$(cat "$tmp/groups.json")
packages_json=$(cat "$tmp/packages.json")

bundle_json=''
if [ "$bundle" = 1 ] && [ "$out" != - ]; then
  stem=${out##*/}; stem=${stem%.*}
  dir=$(dirname -- "$out")
  partial="$dir/.$stem.bundle.partial"
  rm -rf "$partial"
  write_bundle "$partial"
  rm -rf "$dir/$stem.bundle"
  mv "$partial" "$dir/$stem.bundle"
  bundle_json=",\"bundle\":$(js "$stem.bundle")"
fi

findings_json=$(printf '%s' "$findings" | { _sep=''; printf '['; while IFS= read -r _f; do [ -n "$_f" ] && printf '%s%s' "$_sep" "$_f" && _sep=','; done; printf ']'; })
version=0.1.0
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
  printf '{"schema":1,"liftkit_version":"%s","collected_at":"%s","host":%s,"users":%s,"groups":%s,"packages":%s,' \
    "$version" "$now" "$host_json" "$users_json" "$groups_json" "$packages_json"
  printf '"processes":'; cat "$tmp/processes.json"
  printf ',"sockets":'; cat "$tmp/sockets.json"
  printf ',"connections":'; cat "$tmp/connections.json"
  printf ',"capacity":'; cat "$tmp/capacity.json"
  printf '%s,"facts":[],"findings":%s}\n' "$bundle_json" "$findings_json"
} > "$tmp/snapshot.json"

if [ "$out" = - ]; then
  cat "$tmp/snapshot.json"
else
  # Whole or not at all: written beside the target, then renamed over it.
  cp "$tmp/snapshot.json" "$out.partial" && mv "$out.partial" "$out" || exit 2
  echo "collected → $out" >&2
fi
