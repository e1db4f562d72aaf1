-- A campaign's gate (gate hash value rank:weight:rate:from:until, written by the store from its
-- timing); a campaign without one: normal priority, weight 1, no rate cap, always open.
local function gateOf(gateHash, c)
  local g = redis.call('HGET', gateHash, c)
  if not g then return 1, 1, 0, 0, nil end
  local f = {}
  for v in string.gmatch(g, '[^:]+') do f[#f + 1] = tonumber(v) end
  return f[1], f[2], f[3], f[4], f[5]
end
