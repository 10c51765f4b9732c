-- Argo CD health check for every sealer.dev kind (SealedSecret, SopsSecret, VaultSecret, VaultPKISecret, VaultPushSecret,
-- VaultStore, ClusterVaultStore, ClusterVaultSecret): the controller's Ready condition decides. argocd-cm.yaml installs it for each kind.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the sealer controller"
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the sealer controller to observe generation " .. tostring(generation)
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    local message = condition.message or ""
    if condition.status == "True" then
      hs.status = "Healthy"
      hs.message = message
    elseif condition.status == "False" then
      hs.status = "Degraded"
      hs.message = (condition.reason or "NotReady") .. ": " .. message
    else
      hs.status = "Progressing"
      hs.message = message
    end
    return hs
  end
end
hs.status = "Progressing"
hs.message = "Waiting for the sealer controller"
return hs
