// The Keybrake function app on the Flex Consumption plan (FC1, Linux), .NET 10 isolated worker.
//
// It runs as the user-assigned managed identity and holds no secret in its settings: host
// storage, the app's tables, Key Vault and Application Insights are all reached with that
// identity. The roles it needs are assigned in rbac.bicep before this module runs.

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region.')
param location string

@description('Tags for the resources; the app also gets azd-service-name.')
param tags object

@description('azd service name (azure.yaml) that deploys code to this app.')
param serviceName string = 'api'

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Name of the storage account (host storage, deployment package and app tables).')
param storageAccountName string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Queue of the reconciler\'s work items (Queues__Reconcile).')
param reconcileQueueName string

@description('Queue of the nightly run\'s work items (Queues__Nightly).')
param nightlyQueueName string

@description('Name of the key vault.')
param keyVaultName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('The integration subnet (restrictNetworkAccess in main.bicep); empty: no virtual network.')
param virtualNetworkSubnetId string = ''

@description('Operator settings (app setting name to value), only the ones set: see main.bicep.')
param operatorSettings object = {}

// Secure: a chat webhook URL carries its own credential (see main.bicep).
@secure()
@description('Alerts__WebhookUrl; empty: alerts wait in the queue.')
param alertsWebhookUrl string = ''

@description('Memory of each instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Upper bound on the number of instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }

  // Flex Consumption takes the worker runtime and version from functionAppConfig, not from
  // FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION (which it rejects).
  //
  // This resource REPLACES every app setting on each provision: whatever is not here is removed. So
  // every setting an operator may change is a parameter fed from the azd environment (main.bicep),
  // never set by hand. The platform settings come last: an operator value cannot override them.
  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(operatorSettings, empty(alertsWebhookUrl) ? {} : { Alerts__WebhookUrl: alertsWebhookUrl }, {
      // DefaultAzureCredential in the app picks the user-assigned identity by this client id.
      AZURE_CLIENT_ID: identityClientId

      // Functions host storage, identity-based (no connection string, no account key).
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
      AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
      AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table

      // The timers' work queues in the same account: the app enqueues, the queue triggers listen (%Queues:…%).
      Queues__Reconcile: reconcileQueueName
      Queues__Nightly: nightlyQueueName

      // The app's own tables (created by the app at start-up) and its secrets.
      Tables__ServiceUri: storage.properties.primaryEndpoints.table
      KeyVault__Uri: vault.properties.vaultUri

      // Telemetry with Microsoft Entra authentication (local auth is disabled on the component).
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    })
  }

  // No FTP and no basic-auth (publishing profile) deployments: code is deployed with Microsoft
  // Entra ID (azd / Core Tools / Azure CLI).
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = site.name
output uri string = 'https://${site.properties.defaultHostName}'
