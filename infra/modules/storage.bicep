// Blob containers for photos and the Storage queue that is the Celery broker. The account has no usable key
// (shared-key access off) and no public blobs; the identity gets data roles scoped as narrowly as the code allows.
param name string
param location string
param tags object
param identityPrincipalId string
param uploadsContainer string
param thumbnailsContainer string
param taskQueue string
@description('stream or sas; the identity may sign user-delegation SAS URLs only with sas')
param photoDelivery string

var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var queueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var blobDelegator = 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_206: zone-redundant (three copies across zones); a second region would double the cost while Postgres, the other half of the data, has no geo-redundant backup either
  // checkov:skip=CKV_AZURE_35: Container Apps (Consumption) and App Service reach Storage from no fixed address and this deployment has no virtual network; with shared-key access off every request needs an Entra token with a data role
  // checkov:skip=CKV_AZURE_59: same reason: public endpoint, but no anonymous or key-based access of any kind
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource uploads 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: uploadsContainer
  properties: {
    publicAccess: 'None'
  }
}

resource thumbnails 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: thumbnailsContainer
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: taskQueue
}

// Web writes raw uploads and reads thumbnails; the worker reads and deletes uploads and writes thumbnails;
// both list. Contributor on each of the two containers, nothing on the rest of the account.
resource uploadsData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(uploads.id, identityPrincipalId, blobDataContributor)
  scope: uploads
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
  }
}

resource thumbnailsData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(thumbnails.id, identityPrincipalId, blobDataContributor)
  scope: thumbnails
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
  }
}

// Account scope: kombu's Storage Queue transport lists the account's queues when it opens a channel, which
// a role on the one queue does not allow. The KEDA scaler reads the queue length with the same role.
resource queueData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, queueDataContributor)
  scope: account
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDataContributor)
  }
}

// generateUserDelegationKey is an account-level action; granted only when the app signs SAS URLs.
resource delegation 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (photoDelivery == 'sas') {
  name: guid(account.id, identityPrincipalId, blobDelegator)
  scope: account
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDelegator)
  }
}

output name string = account.name
output blobEndpoint string = 'https://${account.name}.blob.${environment().suffixes.storage}'
output queueEndpoint string = 'https://${account.name}.queue.${environment().suffixes.storage}'
