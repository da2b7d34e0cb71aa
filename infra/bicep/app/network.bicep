// Only with restrictNetworkAccess (main.bicep): a virtual network with one subnet for the function
// app's outbound traffic. Flex Consumption integrates with a subnet delegated to
// Microsoft.App/environments. The subnet's service endpoints for Storage and Key Vault let their
// firewalls (storage.bicep, keyvault.bicep) admit exactly this subnet and deny everything else.

@description('Name of the virtual network.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Address space of the virtual network.')
param addressPrefix string = '10.0.0.0/16'

@description('Address range of the app\'s integration subnet (/27 or larger; Flex Consumption scales into it).')
param appSubnetPrefix string = '10.0.0.0/24'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          serviceEndpoints: [
            {
              service: 'Microsoft.Storage'
            }
            {
              service: 'Microsoft.KeyVault'
            }
          ]
        }
      }
    ]
  }
}

output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'app')
