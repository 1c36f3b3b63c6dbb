#!/usr/bin/env bash
# The GPU check of TruDi's update (issue: CUDA graphs), one prepared script for a lent GPU machine (<= 8 min).
#
# Here, first (Isaac Lab installed):   .venv/bin/python benchmarks/device/device_bundle.py
# On the GPU machine (PyTorch only):   bash benchmarks/device/gpu_check.sh
#   e.g. through the device tool:      run  command="bash benchmarks/device/gpu_check.sh"  carry=["benchmarks/.device"]
#
# In order of priority (the steps share one 470 s deadline: <= 8 min whatever happens; a step that would pass it is
# cut short or skipped, and the report says so):
# 1. graphed vs eager equivalence after one update (parameters within 1e-5 relative) -> results/cuda_graph_check.jsonl
# 2. update_cost.py for ppo, reppo, trudi, eager and graphed, 4096 envs x 32 steps, Humanoid's sizes, default
#    minibatch size, kernel and graph launches counted                              -> results/update_cost.jsonl
# 3. precision_cost.py: ppo, reppo, trudi in float32 and mixed precision (bf16 autocast), 4096 x 32, Humanoid's
#    sizes, eager (-> results/precision_cost.jsonl); graphed vs eager under mixed precision (1e-4); its cost
# 4. the same with torch_compile (graphed+compiled): its equivalence (1e-4: fused kernels round differently), its cost
# 5. update_cost.py eager and graphed at Ant's sizes
# 6. a short TorchCartpole torch_grid.py run of TruDi, graphed                      -> results/TorchCartpole/
# Each record is labelled with the bundle's commit and the mode. Results also go to $OUT when it is set (the device
# tool brings back what is under $OUT), after every step: a run cut short still returns what it measured.
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle=benchmarks/.device
cfgs=$bundle/agent_cfgs.json
if [ ! -f "$cfgs" ] || ! grep -q '"torch_compile"' "$cfgs"; then
    echo "gpu_check: $cfgs is missing or predates torch_compile; run 'python benchmarks/device/device_bundle.py' where Isaac Lab is" >&2
    exit 2
fi
export PYTHONPATH=source:$bundle/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1  # a step cut short keeps its output
commit=$(cat "$bundle/commit" 2>/dev/null || echo unknown)
results=benchmarks/results
status=0
deadline=$((SECONDS + 470))
save() {  # copy the results so far to $OUT (the device tool brings back what is there)
    [ -n "${OUT:-}" ] || return 0
    mkdir -p "$OUT/results"
    cp $results/cuda_graph_check.jsonl $results/update_cost.jsonl $results/precision_cost.jsonl "$OUT/results/" 2>/dev/null
    cp -r $results/TorchCartpole "$OUT/results/" 2>/dev/null
    return 0
}
step() {  # step <seconds> <command...>: run within its limit and the deadline, keep going on failure, remember it
    local limit=$1 left=$((deadline - SECONDS)); shift
    if [ "$left" -lt 20 ]; then echo "[gpu_check] skipped (deadline): $*" >&2; status=1; return; fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "[gpu_check] $(date +%T) (limit ${limit}s) $*"
    timeout -k 10 "$limit" "$@" || { echo "[gpu_check] failed or timed out (rc $?): $*" >&2; status=1; }
    save
}

python -c 'import torch; assert torch.cuda.is_available(); print("[gpu_check]", torch.__version__, torch.cuda.get_device_name())' || exit 2
check=(python benchmarks/device/cuda_graph_check.py --agent_cfgs "$cfgs" --out $results/cuda_graph_check.jsonl)
cost=(python benchmarks/cost/update_cost.py --device cuda --num_envs 4096 --steps 32 --repeats 1 --profile 10
      --agent_cfgs "$cfgs" --out $results/update_cost.jsonl)  # 4096 envs x 32 steps, one more iteration profiled
humanoid=(--task Isaac-Humanoid --obs 87 --actions 21)
ant=(--task Isaac-Ant --obs 60 --actions 8)
step 60 "${check[@]}" --label "$commit graphed"
step 90 "${cost[@]}" "${humanoid[@]}" --algos ppo reppo trudi --label "$commit eager"
step 60 "${cost[@]}" "${humanoid[@]}" --algos reppo trudi --cuda_graphs --label "$commit graphed"
step 90 python benchmarks/cost/precision_cost.py --device cuda --num_envs 4096 --steps 32 --rounds 2 --agent_cfgs "$cfgs" \
    "${humanoid[@]}" --label "$commit eager" --out $results/precision_cost.jsonl
# (bf16 rounding can turn a float32 reordering difference into one bf16 ulp, 2^-8, at an element: 1e-4 of the norm)
step 60 "${check[@]}" --mixed_precision --rtol 1e-4 --label "$commit graphed mixed"
step 45 "${cost[@]}" "${humanoid[@]}" --algos trudi --cuda_graphs --label "$commit graphed mixed" \
    algorithm.use_mixed_precision=true
# (at the next step's env count: its compilation is then in Inductor's cache)
step 150 "${check[@]}" --torch_compile --rtol 1e-4 --num_envs 4096 --label "$commit graphed+compiled"
step 120 "${cost[@]}" "${humanoid[@]}" --algos reppo trudi --cuda_graphs --label "$commit graphed+compiled" \
    algorithm.torch_compile=true
step 90 "${cost[@]}" "${ant[@]}" --algos ppo reppo trudi --label "$commit eager"
step 60 "${cost[@]}" "${ant[@]}" --algos reppo trudi --cuda_graphs --label "$commit graphed"
step 70 python benchmarks/device/torch_grid.py --device cuda --num_envs 4096 --iterations 20 --eval_every 5 --seeds 0 \
    --algos trudi --agent_cfgs "$cfgs" --tag cuda4096_graphed algorithm.cuda_graphs=true
save
echo "[gpu_check] $(date +%T) done (status $status)"
exit $status
