-- Vendored from argoproj/argo-cd, resource_customizations/bitnami.com/SealedSecret/health.lua (commit 09762a2d),
-- unchanged below this header: Argo CD's built-in health check for bitnami.com SealedSecrets.
-- Copyright The Argo Authors. Licensed under the Apache License, Version 2.0 (the "License"); you may not use this
-- file except in compliance with the License. You may obtain a copy of the License at
-- http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed to in writing, software
-- distributed under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
-- either express or implied. See the License for the specific language governing permissions and limitations.
local health_status={}
if obj.status ~= nil then
    if obj.status.conditions ~= nil then
        for i, condition in ipairs(obj.status.conditions) do
            if condition.type == "Synced" and condition.status == "False" then
                health_status.status = "Degraded"
                health_status.message = condition.message
                return health_status
            end
            if condition.type == "Synced" and condition.status == "True" then
                health_status.status = "Healthy"
                health_status.message = condition.message
                return health_status
            end
        end
    end
end
health_status.status = "Progressing"
health_status.message = "Waiting for Sealed Secret to be decrypted"
return health_status
