// Storage account shared by the Functions host (AzureWebJobsStorage: blobs for timer locks and the
// key store, tables for diagnostic events), the Flex Consumption deployment package (a blob
// container) and the app's own tables.
//
// Tables: the app creates the tables it needs at start-up (CreateIfNotExists), so none are
// declared here. Adding one to the app needs no infrastructure change.
//
// Access is by Microsoft Entra ID only: shared keys (and so account keys, connection strings and
// SAS tokens) are disabled, and nothing anywhere in this template reads a key.
//
// Network: open to all networks (Entra ID still required) unless main.bicep's restrictNetworkAccess
// passes the app's integration subnet; then the firewall admits that subnet, the listed IP ranges and
// trusted Azure services only.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('The work queues the timers fan out on (each gets its {name}-poison queue beside it).')
param queueNames array = []

@description('The function app\'s integration subnet; when set, the firewall denies every other network.')
param virtualNetworkSubnetId string = ''

@description('With virtualNetworkSubnetId: public IP addresses or CIDR ranges still allowed (e.g. the deployer\'s).')
param allowedIpRanges array = []

var restricted = !empty(virtualNetworkSubnetId)

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: restricted
      ? {
          bypass: 'AzureServices'
          defaultAction: 'Deny'
          virtualNetworkRules: [
            {
              id: virtualNetworkSubnetId
              action: 'Allow'
            }
          ]
          ipRules: map(allowedIpRanges, ip => { value: ip, action: 'Allow' })
        }
      : {
          bypass: 'AzureServices'
          defaultAction: 'Allow'
        }
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

// Declared rather than left to the first enqueue: the app and the host's queue triggers find them in place, and the
// poison queues are where an operator looks for a work item that failed maxDequeueCount times (host.json).
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource workQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2024-01-01' = [
  for queue in flatten(map(queueNames, q => [q, '${q}-poison'])): {
    parent: queueService
    name: queue
  }
]

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
