#!/usr/bin/env bash
# machine.sh: the one line every benchmark's header starts with, naming what the figures were measured
# on (they differ by up to 2x between machines):
#   machine: AMD EPYC (family 25 model 17, Zen 4), 2 CPUs, ISA AVX-512 (avx512f avx512bw avx512vl,
#   bf16: avx512_bf16, vnni: avx512_vnni), oneDNN max ISA: AVX2 (ONEDNN_MAX_CPU_ISA)
# The CPU's model name, cpu family and model from /proc/cpuinfo (its generation where the table below
# knows it), the CPUs this process may use (nproc, whatever OMP_NUM_THREADS says), the widest vector
# ISA the CPU has (AVX-512 when avx512f, else AVX2, else SSE) with its bf16 and VNNI extensions, and
# ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) and OPENBLAS_CORETYPE when set: they cap what the matrix
# products (oneDNN, OpenBLAS) run on, and FN_CPU_ISA when set, which caps fn's own loops (ONEDNN_MAX_CPU_ISA
# caps them too: lib/cpu/cpu.h, man fn.7).
# Source it and call bench_machine (every tests/bench/*.sh does), or run it: bash tests/bench/machine.sh.
# FN_CPUINFO reads another cpuinfo file (a check of the table).

bench_machine() {
  local cpus all info=${FN_CPUINFO:-/proc/cpuinfo}
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo "?")
  all=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc --all 2>/dev/null || echo "$cpus")
  [ -r "$info" ] || info=/dev/null
  awk -v cpus="$cpus" -v all="$all" -v arch="$(uname -m)" \
    -v onednn="${ONEDNN_MAX_CPU_ISA:-}" -v dnnl="${DNNL_MAX_CPU_ISA:-}" -v coretype="${OPENBLAS_CORETYPE:-}" -v fnisa="${FN_CPU_ISA:-}" '
    function val(s) { sub(/^[^:]*:[ \t]*/, "", s); return s }
    # the generation of an AMD or Intel family/model, "" when not in this short table
    function gen(v, f, m) {
      if (v == "AuthenticAMD" || v == "HygonGenuine") {
        if (f == 23) return m < 48 ? "Zen/Zen+" : "Zen 2"
        if (f == 25) return (m >= 16 && m <= 31) || (m >= 96 && m <= 127) || (m >= 160 && m <= 175) ? "Zen 4" : \
                            (m <= 15 || (m >= 32 && m <= 95)) ? "Zen 3" : ""
        if (f == 26) return "Zen 5"
        return ""
      }
      if (v == "GenuineIntel" && f == 6) {
        if (m == 63) return "Haswell"
        if (m == 79) return "Broadwell"
        if (m == 85) return "Skylake-SP/Cascade Lake"
        if (m == 106 || m == 108) return "Ice Lake-SP"
        if (m == 143) return "Sapphire Rapids"
        if (m == 207) return "Emerald Rapids"
        if (m == 173 || m == 174) return "Granite Rapids"
        if (m == 175) return "Sierra Forest"
        if (m == 151 || m == 154) return "Alder Lake"
        if (m == 183 || m == 186 || m == 191) return "Raptor Lake"
      }
      return ""
    }
    /^vendor_id/ && vendor == "" { vendor = val($0) }
    /^cpu family/ && family == "" { family = val($0) }
    /^model[ \t]*:/ && model == "" { model = val($0) }
    /^model name/ && name == "" { name = val($0) }
    /^flags/ && nflags == 0 { nflags = split(val($0), fl, " "); for (i = 1; i <= nflags; i++) has[fl[i]] = 1 }
    END {
      if (name == "") name = "unknown " arch " CPU"
      id = ""
      if (family != "" && model != "") {
        g = gen(vendor, family + 0, model + 0)
        id = " (family " family " model " model (g != "" ? ", " g : "") ")"
      }
      if (nflags == 0) isa = "unknown (no x86 flags in /proc/cpuinfo)"
      else {
        if (has["avx512f"]) { isa = "AVX-512"; ext = "avx512f"; if (has["avx512bw"]) ext = ext " avx512bw"
                              if (has["avx512vl"]) ext = ext " avx512vl" }
        else if (has["avx2"]) { isa = "AVX2"; ext = "avx2" (has["fma"] ? " fma" : "") }
        else { isa = "SSE"; ext = has["sse4_2"] ? "sse4_2" : "sse2" }
        bf = ""; if (has["avx512_bf16"]) bf = "avx512_bf16"; if (has["amx_bf16"]) bf = bf (bf != "" ? " " : "") "amx_bf16"
        vn = ""; if (has["avx512_vnni"]) vn = "avx512_vnni"; if (has["avx_vnni"]) vn = vn (vn != "" ? " " : "") "avx_vnni"
        isa = isa " (" ext ", " (bf != "" ? "bf16: " bf : "no bf16") (vn != "" ? ", vnni: " vn : "") ")"
      }
      line = "machine: " name id ", " cpus " CPU" (cpus == 1 ? "" : "s") (all != cpus ? " of " all : "") ", ISA " isa
      if (onednn != "") line = line ", oneDNN max ISA: " onednn " (ONEDNN_MAX_CPU_ISA)"
      else if (dnnl != "") line = line ", oneDNN max ISA: " dnnl " (DNNL_MAX_CPU_ISA)"
      if (coretype != "") line = line ", OpenBLAS core: " coretype " (OPENBLAS_CORETYPE)"
      if (fnisa != "") line = line ", fn loops: " fnisa " (FN_CPU_ISA)"
      print line
    }' "$info"
}

# run, not sourced: print the line
if [ "${BASH_SOURCE[0]}" = "$0" ]; then bench_machine; fi
