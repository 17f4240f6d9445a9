"""The before/after table of README.md from the runs' results.json files (the run directories
of run.sh in README.md, or the copies in runs/): zk-dsl's median ratio to raw per cell."""
import json,glob,statistics as st,sys
base=sys.argv[1] if len(sys.argv)>1 else 'zk-bench/results/transport-ab/runs'
res={}
for v in ['before','after']:
    for f in sorted(glob.glob(f'{base}/{v}-*/results.json') + glob.glob(f'{base}/{v}-*.json')):
        d=json.load(open(f))
        for c in d['cells']:
            cl={x['client']:x['runs'][0] for x in c['clients'] if x['runs'] and x['runs'][0]['ok']}
            if 'raw' in cl and 'zk-dsl' in cl:
                res.setdefault((c['label'],v),[]).append((cl['zk-dsl']['ops_per_s']/cl['raw']['ops_per_s'], cl['zk-dsl']['cpu_us_per_op']/max(cl['raw']['cpu_us_per_op'],0.01), cl['zk-dsl']['ops_per_s'], cl['zk-dsl']['cpu_us_per_op'], cl['zk-dsl']['p99_us']))
labels=[]
for (l,v) in res:
    if l not in labels: labels.append(l)
print('| cell | before thr/raw | after thr/raw | before cpu/raw | after cpu/raw | before cpu µs/op | after cpu µs/op |')
print('|---|---:|---:|---:|---:|---:|---:|')
for l in labels:
    b=res.get((l,'before'),[]); a=res.get((l,'after'),[])
    m=lambda xs,i: st.median([x[i] for x in xs]) if xs else float('nan')
    print(f'| {l} | {m(b,0):.2f} | {m(a,0):.2f} | {m(b,1):.2f} | {m(a,1):.2f} | {m(b,3):.1f} | {m(a,3):.1f} |')
