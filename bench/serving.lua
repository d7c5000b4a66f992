-- wrk script for bench/serving.py: wrk ... -s serving.lua URL -- METHOD PATH BODY KEYS_FILE
-- Each request carries the next caller key of KEYS_FILE (one per line; "-" for none).
local method, path, body, keys = "GET", "/", nil, {}
local next_key = 0

function init(args)
  method, path = args[1], args[2]
  if args[3] ~= nil and args[3] ~= "" then body = args[3] end
  if args[4] ~= nil and args[4] ~= "-" then
    for line in io.lines(args[4]) do keys[#keys + 1] = line end
    next_key = math.random(#keys)
  end
end

function request()
  local headers = { ["Content-Type"] = "application/json" }
  if #keys > 0 then
    next_key = next_key % #keys + 1
    headers["X-API-Key"] = keys[next_key]
  end
  return wrk.format(method, path, headers, body)
end
