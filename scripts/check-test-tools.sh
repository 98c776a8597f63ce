#!/usr/bin/env bash
# Checks that CI installs every command the tests execute (docs/testing.md,
# "Commands the tests run").
#
# It reads the Rust sources of every crate (src/ and tests/), the shell
# scripts the tests name, and the shell code the tests hand to sh -c and to
# tandemd's notify hooks, extracts each command they execute, and looks each
# one up in TOOLS below (command -> Debian package). .ci/run installs the
# packages of TOOLS, so a command missing from TOOLS is a command CI does
# not install: the check fails and names it, with the place that runs it.
# A command the check cannot read (Command::new of an expression it cannot
# follow) fails the same way.
#
#   scripts/check-test-tools.sh                     the check (exit 1 on a problem)
#   scripts/check-test-tools.sh --list              every command, its package, where it runs
#   scripts/check-test-tools.sh --missing-packages  packages whose commands are not on this host
#   scripts/check-test-tools.sh --installed         the check, then fail if a command is not on this host
#   scripts/check-test-tools.sh --self-test         the extractor on sample sources (CI runs it first)
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package. "-" = no package: the test runs it missing on
# purpose, or names it in a configuration it only parses (the builder's
# /usr/local/bin/ha-notify). Shell builtins (echo, printf, [, exit, wait, ...) are not listed:
# the check knows them.
TOOLS='
ip          iproute2
bridge      iproute2
sysctl      procps
kill        procps
tcpdump     tcpdump
keepalived  keepalived
ucarp       ucarp
curl        curl
ping        iputils-ping
sh          dash
date        coreutils
env         coreutils
sleep       coreutils
sort        coreutils
touch       coreutils
grep        grep
mkfifo      coreutils
mount       mount
nft         nftables
conntrack   conntrack
conntrackd  conntrackd
umount      mount
/nonexistent/tandem-notify-hook  -
/usr/local/bin/ha-notify  -
'

mode=check
case "${1:-}" in
  "") ;;
  --list) mode=list ;;
  --missing-packages) mode=missing ;;
  --installed) mode=installed ;;
  --self-test) mode=self-test ;;
  *)
    echo "usage: $0 [--list | --missing-packages | --installed | --self-test]" >&2
    exit 2
    ;;
esac

# The extractor: prints "command<TAB>file:line" for each command executed,
# and "?<TAB>file:line<TAB>why" for each place it cannot read.
extract() {
  perl -e '
use strict;
use warnings;

# Identifiers that Command::new and argv arrays may name instead of a
# literal: the binary under test (and the lab override of it), the example
# proxy built from this workspace (sticky_proxy_bin), the test
# binary itself, the helpers parameter (its callers are read instead), the
# hook shell.
my %KNOWN = (TANDEMD => "", tandemd_under_test => "", sticky_proxy_bin => "", exe => "", cmd => "", SHELL => "sh");
my %BUILTIN = map { $_ => 1 } qw(
  echo printf true false : exit wait test [ [[ cd read set export unset shift
  trap eval exec command return break continue local umask ulimit times
  type hash getopts alias unalias pwd jobs fg bg . source
);
my %RESERVED = map { $_ => 1 } qw(
  if then else elif fi while until do done for in case esac ! { } function
);

my @out;
sub found { my ($cmd, $where) = @_; push @out, "$cmd\t$where\n" }
sub problem { my ($where, $why) = @_; push @out, "?\t$where\t$why\n" }

# ---- Rust tokens: [kind, value, line]; kind S (string), I (ident), P (punct)
sub tokens {
  my ($text) = @_;
  my @t;
  my $line = 1;
  pos($text) = 0;
  my $n = length $text;
  while (pos($text) < $n) {
    my $start = pos($text);
    if ($text =~ /\G\s+/gc) {
    } elsif ($text =~ m{\G//[^\n]*}gc) {
    } elsif ($text =~ m{\G/\*.*?\*/}gcs) {
    } elsif ($text =~ /\Gb?r(#*)"(.*?)"\1/gcs) {
      push @t, ["S", $2, $line];
    } elsif ($text =~ /\Gb?"((?:[^"\\]|\\.)*)"/gcs) {
      my $v = $1;
      $v =~ s/\\\n\s*//g;
      $v =~ s/\\n/\n/g;
      $v =~ s/\\t/\t/g;
      $v =~ s/\\(.)/$1/g;
      push @t, ["S", $v, $line];
    } elsif ($text =~ /\Gb?\x27(?:[^\x27\\]|\\.[^\x27]*)\x27/gc) {
      push @t, ["P", "char", $line];
    } elsif ($text =~ /\G\x27[A-Za-z_]\w*/gc) {
      push @t, ["P", "lifetime", $line];
    } elsif ($text =~ /\G([A-Za-z_]\w*)/gc) {
      push @t, ["I", $1, $line];
    } elsif ($text =~ /\G(\d[\w.]*)/gc) {
      push @t, ["P", "num", $line];
    } elsif ($text =~ /\G(::|=>|->|&&|\|\||==|!=|<=|>=|\.\.)/gc) {
      push @t, ["P", $1, $line];
    } else {
      $text =~ /\G(.)/gcs;
      push @t, ["P", $1, $line];
    }
    my $seg = substr($text, $start, pos($text) - $start);
    $line += ($seg =~ tr/\n//);
  }
  return \@t;
}

sub is { my ($tok, $kind, $val) = @_; defined $tok && $tok->[0] eq $kind && (!defined $val || $tok->[1] eq $val) }

# The argument token ranges of the call whose "(" is at index $open:
# a list of [first, last] index pairs (top-level commas split).
sub call_args {
  my ($t, $open) = @_;
  my @args;
  my $depth = 0;
  my $first = $open + 1;
  for (my $i = $open; $i < @$t; $i++) {
    my $v = $t->[$i][0] eq "P" ? $t->[$i][1] : "";
    if ($v eq "(" || $v eq "[" || $v eq "{") { $depth++ }
    elsif ($v eq ")" || $v eq "]" || $v eq "}") {
      $depth--;
      if ($depth == 0) { push @args, [$first, $i - 1] if $i - 1 >= $first; last }
    } elsif ($v eq "," && $depth == 1) {
      push @args, [$first, $i - 1];
      $first = $i + 1;
    }
  }
  return @args;
}

# What the let binding of $name nearest before token $pos holds: a list
# of [kind, value] with kind "str" (a string literal or a format!
# template) or "argv" (the first element of an array or vec!: the token).
sub resolve {
  my ($t, $name, $pos, $depth) = @_;
  return () if $depth > 4;
  for (my $i = $pos - 1; $i >= 0; $i--) {
    next unless is($t->[$i], "I", "let");
    my $j = $i + 1;
    $j++ if is($t->[$j], "I", "mut");
    next unless is($t->[$j], "I", $name);
    $j++;
    if (is($t->[$j], "P", ":")) {
      $j++ while $j < @$t && !is($t->[$j], "P", "=") && !is($t->[$j], "P", ";");
    }
    next unless is($t->[$j], "P", "=");
    return rhs($t, $j + 1, $depth);
  }
  return ();
}

# The name of the fn whose body holds token $i, and its parameter names.
sub enclosing_fn {
  my ($t, $i) = @_;
  for (my $k = $i; $k >= 0; $k--) {
    next unless is($t->[$k], "I", "fn") && is($t->[$k + 1], "I");
    my %params;
    for (my $m = $k + 2; $m < $i && !is($t->[$m], "P", "{"); $m++) {
      $params{$t->[$m][1]} = 1 if is($t->[$m], "I") && is($t->[$m + 1], "P", ":");
    }
    return ($t->[$k + 1][1], \%params);
  }
  return ("", {});
}

# Helpers whose argv argument the check reads at each call instead.
my %ARGV_HELPER = (in_ns => 1, nsx => 1, spawn => 2);

sub rhs {
  my ($t, $j, $depth) = @_;
  $j++ if is($t->[$j], "P", "&");
  if (is($t->[$j], "S")) { return (["str", $t->[$j][1]]) }
  if (is($t->[$j], "I", "format") && is($t->[$j + 1], "P", "!") && is($t->[$j + 3], "S")) {
    return (["str", $t->[$j + 3][1]]);
  }
  my $k;
  if (is($t->[$j], "I", "vec") && is($t->[$j + 1], "P", "!") && is($t->[$j + 2], "P", "[")) { $k = $j + 3 }
  elsif (is($t->[$j], "P", "[")) { $k = $j + 1 }
  if (defined $k) {
    return (["argv", $t->[$k]]) if is($t->[$k], "S") || is($t->[$k], "I");
    return ();
  }
  if (is($t->[$j], "I") && !is($t->[$j + 1], "P", "(") && !is($t->[$j + 1], "P", "::")) {
    return resolve($t, $t->[$j][1], $j, $depth + 1);
  }
  return ();
}

# An argv given by the tokens [$a, $b]: its program.
sub argv_program {
  my ($t, $a, $b, $where) = @_;
  $a++ if is($t->[$a], "P", "&");
  my @progs;
  if (is($t->[$a], "P", "[")) {
    @progs = ($t->[$a + 1]);
  } elsif (is($t->[$a], "I") && $a == $b) {
    my $name = $t->[$a][1];
    return if exists $KNOWN{$name} && $KNOWN{$name} eq "";
    my ($fn, $params) = enclosing_fn($t, $a);
    return if $ARGV_HELPER{$fn} && $params->{$name};
    my @v = resolve($t, $name, $a, 0);
    if (!@v) { problem($where, "cannot tell which program the argv `$name` runs: start it with a literal"); return }
    for (@v) {
      if ($_->[0] eq "argv") { push @progs, $_->[1] }
      else { problem($where, "`$name` is a string where an argv is expected") }
    }
  } else {
    problem($where, "cannot read this argv: start it with a literal array");
    return;
  }
  for my $p (@progs) { program($p, $where) }
}

sub program {
  my ($tok, $where) = @_;
  if (is($tok, "S")) { found(command_name($tok->[1]), $where); return }
  if (is($tok, "I") && exists $KNOWN{$tok->[1]}) {
    found($KNOWN{$tok->[1]}, $where) if $KNOWN{$tok->[1]} ne "";
    return;
  }
  problem($where, "cannot tell which command `" . ($tok ? $tok->[1] : "?") . "` is: name it with a literal");
}

sub command_name {
  my ($c) = @_;
  $c =~ s{^/(?:usr/)?s?bin/}{};
  return $c;
}

# A shell code string (or the let binding holding one) at token $k.
sub shell_at {
  my ($t, $k, $where) = @_;
  $k++ if is($t->[$k], "P", "&");
  if (is($t->[$k], "S")) { shell($t->[$k][1], $where); return }
  if (is($t->[$k], "I", "format") && is($t->[$k + 3], "S")) { shell($t->[$k + 3][1], $where); return }
  if (is($t->[$k], "I")) {
    my @v = grep { $_->[0] eq "str" } resolve($t, $t->[$k][1], $k, 0);
    if (!@v) { problem($where, "cannot read the shell code in `$t->[$k][1]`: write it as a literal or format!"); return }
    shell($_->[1], $where) for @v;
    return;
  }
  problem($where, "cannot read this shell code: write it as a literal or format!");
}

# ---- shell code -> the commands it runs
sub shell {
  my ($code, $where) = @_;
  # Arithmetic first, then command substitutions (each a script of its own).
  $code =~ s/\$\(\((?:[^()]|\([^()]*\))*\)\)/N/g;
  $code =~ s/\d*[<>]&(?:\d+|-)/ /g;
  while ($code =~ s/\$\(([^()]*)\)/S/) { shell($1, $where) }
  while ($code =~ s/`([^`]*)`/S/) { shell($1, $where) }
  $code =~ s/\x27[^\x27]*\x27/Q/g;
  $code =~ s/"(?:[^"\\]|\\.)*"/Q/g;
  $code =~ s/(^|\s)#[^\n]*/$1/g;
  for my $simple (split /\n|;|&&|\|\||\||&|\(|\)/, $code) {
    my @w = split " ", $simple;
    while (@w) {
      my $w = $w[0];
      if ($RESERVED{$w}) { shift @w; if ($w eq "for" || $w eq "case") { @w = () } next }
      if ($w =~ /^[A-Za-z_]\w*=/) { shift @w; next }
      if ($w =~ /^\d*[<>]/) { shift @w; shift @w if $w =~ /^\d*(?:[<>]|>>|<<|>\||<>)$/; next }
      if ($w eq "exec" || $w eq "command" || $w eq "nohup") { shift @w; next }
      last;
    }
    next unless @w;
    my $c = $w[0];
    next if $BUILTIN{$c};
    next if $c =~ /^[{]\w*[}]$/;
    found(command_name($c), $where);
  }
}

# ---- the Rust files
my %scripts;   # script base name -> where it is named
for my $file (@ARGV) {
  next unless $file =~ /\.rs$/;
  open my $fh, "<", $file or die "$file: $!";
  local $/;
  my $text = <$fh>;
  close $fh;
  my $t = tokens($text);
  my $in_tests = $file =~ m{/tests/};
  for (my $i = 0; $i < @$t; $i++) {
    my $where = "$file:$t->[$i][2]";
    my $tok = $t->[$i];
    my $prev_fn = $i > 0 && is($t->[$i - 1], "I", "fn");
    # Command::new(X)
    if (is($tok, "I", "Command") && is($t->[$i + 1], "P", "::") && is($t->[$i + 2], "I", "new") && is($t->[$i + 3], "P", "(")) {
      my @a = call_args($t, $i + 3);
      if (@a && $a[0][0] == $a[0][1]) { program($t->[$a[0][0]], $where) }
      elsif (@a && is($t->[$a[0][0]], "P", "&") && $a[0][0] + 1 == $a[0][1]) { program($t->[$a[0][1]], $where) }
      else { problem($where, "cannot read Command::new(...): name the program with a literal") }
      next;
    }
    # run("X", ...), lab::run("X", ...)
    if (is($tok, "I", "run") && !$prev_fn && is($t->[$i + 1], "P", "(") && is($t->[$i + 2], "S")) {
      found(command_name($t->[$i + 2][1]), $where);
      next;
    }
    # helpers whose argument is an argv: in_ns(ns, ARGV), nsx(ns, ARGV),
    # spawn(ns, label, ARGV) (the lab; a two-argument spawn is not one)
    if (is($tok, "I") && !$prev_fn && is($t->[$i + 1], "P", "(")
        && ($tok->[1] eq "in_ns" || $tok->[1] eq "nsx" || $tok->[1] eq "spawn")) {
      my @a = call_args($t, $i + 1);
      my $idx = $tok->[1] eq "spawn" ? 2 : 1;
      if ($tok->[1] eq "spawn" && @a == 2) {
        # Helper::spawn(ns, task) runs the test binary; thread::spawn(f).
      } elsif (@a > $idx) {
        argv_program($t, $a[$idx][0], $a[$idx][1], $where);
      }
      next;
    }
    # "netns", "exec", NS, X: the command ip netns exec runs
    if (is($tok, "S", "netns") && is($t->[$i + 1], "P", ",") && is($t->[$i + 2], "S", "exec") && is($t->[$i + 3], "P", ",")) {
      my $k = $i + 4;
      $k++ while $k < @$t && !is($t->[$k], "P", ",") && !is($t->[$k], "P", "]");
      if (is($t->[$k], "P", ",") && !is($t->[$k + 1], "P", "]")) {
        program($t->[$k + 1], $where);
      } else {
        # The argv ends: the program comes in the next .arg / .args.
        my $m = $k + 1;
        $m++ if is($t->[$m], "P", ")");
        if (is($t->[$m], "P", ".") && is($t->[$m + 1], "I") && $t->[$m + 1][1] =~ /^args?$/ && is($t->[$m + 2], "P", "(")) {
          my @a = call_args($t, $m + 2);
          argv_program($t, $a[0][0], $a[0][1], $where) if @a && $t->[$m + 1][1] eq "args";
          program($t->[$a[0][0] + (is($t->[$a[0][0]], "P", "&") ? 1 : 0)], $where) if @a && $t->[$m + 1][1] eq "arg";
        } elsif (!$ARGV_HELPER{(enclosing_fn($t, $i))[0]}) {
          # Inside an argv helper the program comes from its callers.
          problem($where, "cannot tell what ip netns exec runs here");
        }
      }
    }
    # sh -c CODE (and /bin/sh, bash)
    if (is($tok, "S") && $tok->[1] =~ m{^(?:/bin/)?(?:sh|bash|dash)$} && is($t->[$i + 1], "P", ",") && is($t->[$i + 2], "S", "-c") && is($t->[$i + 3], "P", ",")) {
      found(command_name($tok->[1]), $where);
      shell_at($t, $i + 4, $where);
      next;
    }
    # tandemd run --notify CODE: tandemd runs it with /bin/sh -c
    if ($in_tests && is($tok, "S", "--notify") && is($t->[$i + 1], "P", ",")) {
      found("sh", $where);
      shell_at($t, $i + 2, $where);
      next;
    }
    # notify(CODE, timeout): the hook runner tests
    if (is($tok, "I", "notify") && !$prev_fn && is($t->[$i + 1], "P", "(") && !is($t->[$i + 2], "P", ")")) {
      found("sh", $where);
      shell_at($t, $i + 2, $where);
      next;
    }
    if (is($tok, "S")) {
      # notify = ... in a configuration the tests run tandemd with
      if ($in_tests) {
        while ($tok->[1] =~ /^\s*notify\s*=\s*(?:\x27([^\x27]*)\x27|"((?:[^"\\]|\\.)*)")\s*$/mg) {
          found("sh", $where);
          shell(defined $1 ? $1 : $2, $where);
        }
      }
      # a script the tests name
      if ($tok->[1] =~ /^([\w.-]+\.sh)$/) { $scripts{$1} //= $where }
    }
  }
}

# ---- the scripts the tests name (found among the given files)
for my $file (@ARGV) {
  next unless $file =~ m{([^/]+\.sh)$} && exists $scripts{$1};
  open my $fh, "<", $file or die "$file: $!";
  local $/;
  my $text = <$fh>;
  close $fh;
  if ($text =~ m{^#!\s*(\S+)(?:\s+(\S+))?}) {
    my ($interp, $arg) = ($1, $2);
    found(command_name($interp =~ m{/env$} && defined $arg ? $arg : $interp), "$file:1");
  }
  my $line = 0;
  for my $l (split /\n/, $text) {
    $line++;
    next if $l =~ /^\s*#/;
    shell($l, "$file:$line");
  }
}
print @out;
' "$@"
}

if [ "$mode" = self-test ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/tests/e2e"
  cat >"$tmp/tests/sample.rs" <<'RUST'
// Command::new("in-a-comment") is not run.
fn in_ns(ns: &str, args: &[&str]) -> Output {
    Command::new("ip").args(["netns", "exec", ns]).args(args).output().unwrap()
}
fn t(lab: &mut Lab) {
    let out = std::process::Command::new("alpha").output();
    lab::run("ip", &["netns", "exec", &ns, "beta", "-c", "1"]);
    in_ns(&ns, &["gamma", "--x"]);
    let script = format!(
        "while :; do c=$(delta -s); printf '%s' \"$(epsilon)\"; sleep 0.1; done 2>/dev/null"
    );
    lab.spawn(&ns, "poll", &["sh", "-c", &script]);
    let mut args = vec!["zeta".to_owned(), "--flag".into()];
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.spawn(&ns, "z", &a);
    let hook = format!("echo x >> {}; eta >&2; exec theta", p.display());
    lab.tandemd(0, "t", &["--notify", &hook]);
    let conf = r#"notify = 'iota "$A" | kappa'"#;
    let _ = lab.write("x.toml", conf);
    let _ = "up.sh";
    let mystery = pick();
    Command::new(mystery);
}
RUST
  printf '#!/bin/sh\n# lambda in a comment\nexec mu "$1" 2>/dev/null\n' >"$tmp/tests/e2e/up.sh"
  printf '#!/bin/sh\nnu\n' >"$tmp/tests/e2e/unnamed.sh"
  got=$(extract "$tmp/tests/sample.rs" "$tmp/tests/e2e/up.sh" "$tmp/tests/e2e/unnamed.sh" \
    | awk -F '\t' '{ print $1 }' | sort -u | tr '\n' ' ')
  want="? alpha beta delta epsilon eta gamma iota ip kappa mu sh sleep theta zeta "
  if [ "$got" != "$want" ]; then
    echo "check-test-tools: self-test: extracted [$got], expected [$want]" >&2
    exit 1
  fi
  echo "check-test-tools: self-test passed"
  exit 0
fi

files=$(find crates -path '*/target' -prune -o \( -path 'crates/*/src/*.rs' -o -path 'crates/*/tests/*.rs' -o -path 'crates/*/tests/*.sh' \) -print | sort)
# shellcheck disable=SC2086
found=$(extract $files)

declare -A pkg=()
while read -r c p; do
  [ -n "${c:-}" ] && pkg[$c]=$p
done <<<"$TOOLS"

problems=0
declare -A seen=()
while IFS=$'\t' read -r c where why; do
  [ -z "${c:-}" ] && continue
  if [ "$c" = "?" ]; then
    echo "check-test-tools: $where: $why" >&2
    problems=$((problems + 1))
    continue
  fi
  if [ -z "${pkg[$c]+x}" ]; then
    echo "check-test-tools: $where runs \`$c\`, which .ci/run does not install: add \`$c <debian package>\` to TOOLS in scripts/check-test-tools.sh" >&2
    problems=$((problems + 1))
  fi
  seen[$c]+="${seen[$c]:+ }$where"
done <<<"$found"

for c in "${!pkg[@]}"; do
  [ -z "${seen[$c]+x}" ] && echo "check-test-tools: note: \`$c\` is in TOOLS but no test runs it any more" >&2
done

if [ "$problems" -gt 0 ]; then
  echo "check-test-tools: $problems problem(s)" >&2
  exit 1
fi

on_host() {
  case "$1" in
    /*) [ -x "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] ;;
  esac
}

case "$mode" in
  check)
    echo "check-test-tools: ${#seen[@]} commands, each with a package in TOOLS"
    ;;
  list)
    for c in $(printf '%s\n' "${!seen[@]}" | sort); do
      printf '%-34s %-14s %s\n' "$c" "${pkg[$c]}" "${seen[$c]}"
    done
    ;;
  missing)
    for c in "${!seen[@]}"; do
      p=${pkg[$c]}
      [ "$p" = - ] && continue
      on_host "$c" || echo "$p"
    done | sort -u
    ;;
  installed)
    missing=()
    for c in "${!seen[@]}"; do
      [ "${pkg[$c]}" = - ] && continue
      on_host "$c" || missing+=("$c (${pkg[$c]})")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "check-test-tools: not on this host: ${missing[*]}" >&2
      exit 1
    fi
    echo "check-test-tools: every command the tests run is on this host"
    ;;
esac
