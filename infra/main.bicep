// Everything the app needs in one resource group, keyless: `azd up` provisions this, then deploys the images.
// One user-assigned identity reaches Storage (blobs and the task queue), Postgres (an Entra token as the
// password), the registry and Application Insights. No template, parameter, output or app setting holds a
// password, key, SAS or connection string with a secret.
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('azd environment name; names the resource group and seeds the unique resource names')
param environmentName string

@minLength(1)
@description('Azure region of every resource')
param location string

@description('Object id of who runs azd (AZURE_PRINCIPAL_ID): the Postgres Entra administrator')
param principalId string

@allowed(['User', 'ServicePrincipal'])
@description('User for a person running azd up, ServicePrincipal for the deploy pipeline')
param principalType string = 'User'

@allowed(['containerapps', 'appservice'])
@description('Where web and worker run: Container Apps (default) or App Service (main container + sidecar)')
param hosting string = 'containerapps'

@allowed(['sas', 'stream'])
@description('PHOTO_DELIVERY: sas redirects browsers to user-delegation SAS URLs, stream serves through web')
param photoDelivery string = 'sas'

@description('PUBLIC_BASE_URL: the origin people reach the site at (a custom domain), for canonical links and sitemaps; empty: the host name the platform routed the request by')
param publicBaseUrl string = ''

@allowed(['none', 'platform'])
@description('AUTH_MODE: platform only after turning on the host\'s authentication (docs/azure.md, Moderation); it strips the principal header that the app then trusts')
param authMode string = 'none'

@description('Whether azd found each service deployed (SERVICE_<NAME>_RESOURCE_EXISTS, set by azd)')
param webExists bool = false
param workerExists bool = false
param migrateExists bool = false

@description('App Service only: the worker image the postdeploy hook released last (SERVICE_WORKER_IMAGE_NAME)')
param workerImageName string = ''

@minValue(0)
param webMinReplicas int = 1
@minValue(1)
param webMaxReplicas int = 5
@minValue(0)
@description('1 keeps a worker, and so its sweeper (the delivery guarantee for photos and erasures), always up; 0 lets it scale to zero, and the sweeper then runs only while a message keeps a replica up')
param workerMinReplicas int = 1
@minValue(1)
param workerMaxReplicas int = 10

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var databaseName = 'reviews'
var uploadsContainer = 'uploads'
var thumbnailsContainer = 'thumbnails'
// The Celery queue the worker consumes (task_default_queue in shared/restaurant_shared/taskqueue.py).
var taskQueue = 'thumbnails'
var storageAccountName = 'st${resourceToken}'
var postgresAdminName = 'admin-${uniqueString(principalId)}'

// The app's configuration in Azure, one list per process. Every name is a field of Settings
// (shared/restaurant_shared/settings.py) or a gunicorn variable; tests/infra checks both ways.
var sharedSettings = {
  POSTGRES_HOST: postgres.outputs.host
  POSTGRES_DB: databaseName
  POSTGRES_USER: identity.outputs.name
  POSTGRES_SSLMODE: 'require'
  POSTGRES_AUTH: 'entra'
  AZURE_CLIENT_ID: identity.outputs.clientId
  AZURE_STORAGE_ACCOUNT_URL: storage.outputs.blobEndpoint
  STORAGE_UPLOADS_CONTAINER: uploadsContainer
  STORAGE_THUMBNAILS_CONTAINER: thumbnailsContainer
  CELERY_BROKER_URL: 'azurestoragequeues://DefaultAzureCredential@${storage.outputs.queueEndpoint}'
  CELERY_BROKER_POLLING_INTERVAL: '0.2'
  PHOTO_DELIVERY: photoDelivery
  PUBLIC_BASE_URL: publicBaseUrl
  LOG_LEVEL: 'INFO'
  // Names the resource; ingestion itself takes the identity's token (local authentication is off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.applicationInsightsConnectionString
}
var webOnlySettings = {
  PORT: '8080'
  WEB_CONCURRENCY: '2'
  AUTH_MODE: authMode
  MODERATOR_ROLE: 'Moderator'
  // Azure's front ends reach the app from the platform's private and shared ranges.
  FORWARDED_ALLOW_IPS: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10'
}
var workerOnlySettings = {
  WORKER_CONCURRENCY: '2'
}
var webSettings = union(sharedSettings, webOnlySettings, { OTEL_SERVICE_NAME: 'restaurant-web' })
var workerSettings = union(sharedSettings, workerOnlySettings, { OTEL_SERVICE_NAME: 'restaurant-worker' })
// App Service gives every setting to both containers: each then takes its own default OTEL_SERVICE_NAME.
var appServiceSettings = union(sharedSettings, webOnlySettings, workerOnlySettings)
var migrateSettings = sharedSettings

resource resourceGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: resourceGroup
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: resourceGroup
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: resourceGroup
  params: {
    name: 'cr${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: resourceGroup
  params: {
    name: storageAccountName
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    uploadsContainer: uploadsContainer
    thumbnailsContainer: thumbnailsContainer
    taskQueue: taskQueue
    photoDelivery: photoDelivery
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: resourceGroup
  params: {
    name: 'psql-${resourceToken}'
    location: location
    tags: tags
    databaseName: databaseName
    adminName: postgresAdminName
    adminObjectId: principalId
    adminType: principalType
  }
}

// The Container Apps environment and the migration job exist on both hosts (App Service runs the same job);
// the web and worker container apps only on the Container Apps host.
module containerApps 'modules/containerapps.bicep' = {
  name: 'container-apps'
  scope: resourceGroup
  params: {
    environmentName: 'cae-${resourceToken}'
    webName: 'ca-web-${resourceToken}'
    workerName: 'ca-worker-${resourceToken}'
    migrationJobName: 'caj-migrate-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    registryServer: registry.outputs.loginServer
    webSettings: webSettings
    workerSettings: workerSettings
    migrateSettings: migrateSettings
    webExists: webExists
    workerExists: workerExists
    migrateExists: migrateExists
    storageAccountName: storage.outputs.name
    taskQueue: taskQueue
    webMinReplicas: webMinReplicas
    webMaxReplicas: webMaxReplicas
    workerMinReplicas: workerMinReplicas
    workerMaxReplicas: workerMaxReplicas
    deployApps: hosting == 'containerapps'
  }
}

module appService 'modules/appservice.bicep' = if (hosting == 'appservice') {
  name: 'app-service'
  scope: resourceGroup
  params: {
    planName: 'asp-${resourceToken}'
    siteName: 'app-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    registryServer: registry.outputs.loginServer
    settings: appServiceSettings
    webImage: containerApps.outputs.migrateImage
    workerImage: workerImageName
  }
}

// azd stores these in the environment (.azure/<env>/.env); the hooks and later provisions read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output HOSTING string = hosting
output USE_CONTAINER_APPS string = hosting == 'containerapps' ? 'true' : 'false'
output IDENTITY_NAME string = identity.outputs.name
output IDENTITY_CLIENT_ID string = identity.outputs.clientId
output POSTGRES_SERVER_NAME string = postgres.outputs.name
output POSTGRES_HOST string = postgres.outputs.host
output POSTGRES_DB string = databaseName
output POSTGRES_ADMIN_NAME string = postgresAdminName
output MIGRATION_JOB_NAME string = containerApps.outputs.migrationJobName
output APP_SERVICE_NAME string = hosting == 'appservice' ? appService.outputs.name : ''
output WEB_URI string = hosting == 'appservice' ? appService.outputs.uri : containerApps.outputs.webUri
// The apps' telemetry destination (set on them above); ingestion needs the identity's token as well.
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
