// The other host: one Linux web app in sidecar mode. Web is the main container, the worker a sidecar in the
// same instance; both pull with the identity and get the app settings as environment variables. The worker
// scales with the plan's instance count, not with the queue (Container Apps is the host that can).
param planName string
param siteName string
param location string
param tags object
param identityId string
param identityClientId string
param logAnalyticsId string
param registryServer string
@description('Environment variables shared by both containers (App Service gives every setting to each).')
param settings object
param webImage string
param workerImage string

var placeholderImage = 'mcr.microsoft.com/k8se/quickstart:latest'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy needs three or more instances; the App Service host is the small option (scale the plan for more)
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: 'P0v3'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: this is the public website; it has to accept traffic from the internet
  // checkov:skip=CKV_AZURE_17: browsers do not present client certificates; people are the clients
  // checkov:skip=CKV_AZURE_212: one instance by default to keep the cost of the alternative host low; the plan scales out
  name: siteName
  location: location
  tags: tags
  kind: 'app,linux,container'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      linuxFxVersion: 'SITECONTAINERS'
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identityClientId
      alwaysOn: true
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      remoteDebuggingEnabled: false
      appSettings: [for setting in items(settings): { name: setting.key, value: setting.value }]
    }
  }
}

resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource webContainer 'Microsoft.Web/sites/sitecontainers@2024-04-01' = {
  parent: site
  name: 'web'
  properties: {
    image: empty(webImage) ? placeholderImage : webImage
    isMain: true
    targetPort: '8080'
    authType: 'UserAssigned'
    userManagedIdentityClientId: identityClientId
    inheritAppSettingsAndConnectionStrings: true
  }
}

resource workerContainer 'Microsoft.Web/sites/sitecontainers@2024-04-01' = {
  parent: site
  name: 'worker'
  properties: {
    image: empty(workerImage) ? placeholderImage : workerImage
    isMain: false
    authType: 'UserAssigned'
    userManagedIdentityClientId: identityClientId
    inheritAppSettingsAndConnectionStrings: true
  }
}

resource siteLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: site
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
    ]
  }
}

output name string = site.name
output uri string = 'https://${site.properties.defaultHostName}'
