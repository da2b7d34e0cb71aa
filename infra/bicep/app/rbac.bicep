// Role assignments. Every assignment is named guid(scope id, principal id, role definition id),
// so re-running a deployment finds the existing assignment instead of creating a duplicate.
//
// The app's managed identity gets exactly what the app and the Functions host use:
//   storage account  Storage Table Data Contributor  the app's tables (created by the app at
//                                                    start-up) and the host's diagnostic events
//                    Storage Blob Data Owner         host storage (timer locks, key store; the
//                                                    host creates its containers) and the
//                                                    Flex Consumption deployment package
//                    Storage Queue Data Contributor  the timers' work queues (the app enqueues, the
//                                                    host's queue triggers read, delete, and move
//                                                    failures to {queue}-poison)
//   key vault        Key Vault Secrets User          read vendor secrets and the root token
//   app insights     Monitoring Metrics Publisher    send telemetry (local auth is disabled)
//
// The deploying principal (a person, or a pipeline's service principal: deployerPrincipalType) gets
// data-plane roles when grantDeployerDataAccess is true, the default, as in the azd quickstart:
// tables and blobs to inspect state, Key Vault Secrets Officer to set vendor secrets and let the
// postprovision hook generate the root token. Owner on the resource group is not enough for that: a
// vault in RBAC mode gives no data access to control-plane roles.

@description('Name of the storage account.')
param storageAccountName string

@description('Name of the key vault.')
param keyVaultName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Principal (object) id of the app\'s user-assigned managed identity.')
param identityPrincipalId string

@description('Object id of the deploying principal; used only when grantDeployerDataAccess is true.')
param deployerPrincipalId string = ''

@description('Kind of the deploying principal (AZURE_PRINCIPAL_TYPE): User or ServicePrincipal (or Group).')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

@description('Give the deploying principal data-plane roles on tables, blobs and Key Vault secrets.')
param grantDeployerDataAccess bool = true

// Built-in role definition ids.
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

var storageTableDataContributor = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  storageTableDataContributorRoleId
)
var storageBlobDataOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
var storageQueueDataContributor = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  storageQueueDataContributorRoleId
)
var keyVaultSecretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
var keyVaultSecretsOfficer = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  keyVaultSecretsOfficerRoleId
)
var monitoringMetricsPublisher = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  monitoringMetricsPublisherRoleId
)

var grantDeployer = grantDeployerDataAccess && !empty(deployerPrincipalId)

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// --- The app's managed identity -------------------------------------------------------------

resource appTableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Keybrake app: its tables and the Functions host diagnostic events.'
  }
}

resource appBlobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: storageBlobDataOwner
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Keybrake app: Functions host storage and the deployment package.'
  }
}

resource appQueueData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageQueueDataContributor
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Keybrake app: the timers\' work queues and their poison queues.'
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsUser
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Keybrake app: read vendor secrets and the operator root token.'
  }
}

resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: monitoringMetricsPublisher
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Keybrake app: send telemetry with Microsoft Entra authentication.'
  }
}

// --- The deploying principal (on by default) ----------------------------------------------------------

resource deployerTableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeployer) {
  name: guid(storage.id, deployerPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    description: 'Deployer: inspect Keybrake tables.'
  }
}

resource deployerBlobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeployer) {
  name: guid(storage.id, deployerPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: storageBlobDataOwner
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    description: 'Deployer: inspect host storage and deployment packages.'
  }
}

resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeployer) {
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsOfficer
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    description: 'Deployer: set vendor secrets and generate the operator root token.'
  }
}
