# st.sh: shell helpers for safetensors model files, sourced by report.sh and compare.sh.
# The header is read by jq (a safetensors file: an 8-byte little-endian length, then that JSON).

# st_header FILE: the JSON header
st_header() {
  local n
  n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
  head -c $((8 + n)) "$1" | tail -c "$n"
}

# st_meta FILE KEY: one __metadata__ value ("" when absent)
st_meta() { st_header "$1" | jq -r --arg k "$2" '.__metadata__[$k] // empty'; }

# model_params FILE: the trainable parameters, every tensor but the batch-norm running statistics
model_params() {
  st_header "$1" | jq '[to_entries[] | select(.key != "__metadata__")
    | select(.key | test("running_(mean|var)$") | not) | .value.shape | reduce .[] as $d (1; . * $d)] | add'
}
