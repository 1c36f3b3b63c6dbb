#!/usr/bin/env bash
# The GPU check of TruDi's update (issue: CUDA graphs), one prepared script for a lent GPU machine (<= 8 min).
#
# Here, first (Isaac Lab installed):   .venv/bin/python benchmarks/device_bundle.py
# On the GPU machine (PyTorch only):   bash benchmarks/gpu_check.sh
#   e.g. through the device tool:      run  command="bash benchmarks/gpu_check.sh"  carry=["benchmarks/.device"]
#
# 1. graphed vs eager equivalence after one update (parameters within 1e-5 relative) -> results/cuda_graph_check.jsonl
# 2. update_cost.py for ppo, reppo, trudi, eager and graphed, 4096 envs x 32 steps, Humanoid's and Ant's sizes,
#    default minibatch size, kernel and graph launches counted                     -> results/update_cost.jsonl
# 3. a short TorchCartpole torch_grid.py run of TruDi, graphed                      -> results/TorchCartpole/
# Each record is labelled with the bundle's commit and the mode. Results also go to $OUT when it is set (the device
# tool brings back what is under $OUT).
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=benchmarks/.device
cfgs=$bundle/agent_cfgs.json
if [ ! -f "$cfgs" ] || ! grep -q '"cuda_graphs"' "$cfgs"; then
    echo "gpu_check: $cfgs is missing or predates cuda_graphs; run 'python benchmarks/device_bundle.py' where Isaac Lab is" >&2
    exit 2
fi
export PYTHONPATH=source:$bundle/site${PYTHONPATH:+:$PYTHONPATH}
commit=$(cat "$bundle/commit" 2>/dev/null || echo unknown)
results=benchmarks/results
status=0
step() {  # step <seconds> <command...>: run with a time limit, keep going on failure, remember it
    local limit=$1; shift
    echo "[gpu_check] $(date +%T) $*"
    timeout "$limit" "$@" || { echo "[gpu_check] failed or timed out (rc $?): $*" >&2; status=1; }
}

python -c 'import torch; assert torch.cuda.is_available(); print("[gpu_check]", torch.__version__, torch.cuda.get_device_name())' || exit 2
step 60 python benchmarks/cuda_graph_check.py --agent_cfgs "$cfgs" --label "$commit" --out $results/cuda_graph_check.jsonl
for sizes in "Isaac-Humanoid 87 21" "Isaac-Ant 60 8"; do
    read -r task obs actions <<<"$sizes"
    common=(--device cuda --num_envs 4096 --steps 32 --task "$task" --obs "$obs" --actions "$actions" --repeats 1
            --profile 10 --agent_cfgs "$cfgs" --out $results/update_cost.jsonl)
    step 100 python benchmarks/update_cost.py "${common[@]}" --algos ppo reppo trudi --label "$commit eager"
    step 70 python benchmarks/update_cost.py "${common[@]}" --algos reppo trudi --cuda_graphs --label "$commit graphed"
done
step 80 python benchmarks/torch_grid.py --device cuda --num_envs 4096 --iterations 20 --eval_every 5 --seeds 0 \
    --algos trudi --agent_cfgs "$cfgs" --tag cuda4096_graphed algorithm.cuda_graphs=true
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT/results"
    cp $results/cuda_graph_check.jsonl $results/update_cost.jsonl "$OUT/results/" 2>/dev/null
    cp -r $results/TorchCartpole "$OUT/results/" 2>/dev/null
fi
echo "[gpu_check] $(date +%T) done (status $status)"
exit $status
