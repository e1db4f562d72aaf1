--[[
  Why a tracking schedule of our own rather than a delayed BullMQ job per check: a million tracked
  messages would be a million delayed jobs re-added after every question (each ~1 KB and a full
  job round trip), while tracking needs "the ids due now, up to 200, claimed by one worker": a
  sorted set by due time gives that in one call, and an id is one small member. Claims are leases:
  a worker that dies mid-round leaves its ids in the set with the lease as their due time, so they
  come back to any worker when it runs out.

  Claims up to ARGV[3] ids due by ARGV[1] for one round: each is pushed to ARGV[1] + ARGV[2]
  (the lease), so no other worker asks about it meanwhile, and it comes back if this one dies.
  KEYS[1] track zset, KEYS[2] info hash
  ARGV[1] now (ms), ARGV[2] lease (ms), ARGV[3] limit
  Returns id, info pairs; then, as the last element, the due time of the next id not claimed
  ('' when none is waiting).
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
local leaseUntil = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(ids) do
  local info = redis.call('HGET', KEYS[2], id)
  if info then
    redis.call('ZADD', KEYS[1], leaseUntil, id)
    out[#out + 1] = id
    out[#out + 1] = info
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
out[#out + 1] = nxt[2] or ''
return out
