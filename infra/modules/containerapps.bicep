// The default host: web (external ingress, probes, HTTP scaling), worker (no ingress, KEDA azure-queue rule
// authenticated with the identity) and the migration as a manually triggered job, all in one Consumption
// environment whose logs go to Log Analytics through a diagnostic setting (no workspace key).
param environmentName string
param webName string
param workerName string
param migrationJobName string
param location string
param tags object
param identityId string
param logAnalyticsId string
param registryServer string
@description('Environment variables of each process, name -> value (main.bicep keeps the lists).')
param webSettings object
param workerSettings object
param migrateSettings object
@description('Whether azd finds each target already deployed (SERVICE_<NAME>_RESOURCE_EXISTS): a provision then
keeps the image azd deployed instead of putting the placeholder back')
param webExists bool
param workerExists bool
param migrateExists bool
param storageAccountName string
param taskQueue string
param webMinReplicas int
param webMaxReplicas int
param workerMinReplicas int
param workerMaxReplicas int
@description('false on the App Service host, which runs web and worker itself')
param deployApps bool

// Runs only until azd deploys the real image (on the first provision, the registry is still empty).
var placeholderImage = 'mcr.microsoft.com/k8se/quickstart:latest'
var webPort = 8080
// gunicorn's graceful_timeout is 30 s; the platform must wait longer before it kills the container.
var webGracePeriod = 40
// A thumbnail task takes seconds; Celery's warm shutdown finishes the running ones within this.
var workerGracePeriod = 120
var registries = [
  {
    server: registryServer
    identity: identityId
  }
]
var identity = {
  type: 'UserAssigned'
  userAssignedIdentities: {
    '${identityId}': {}
  }
}

resource existingWeb 'Microsoft.App/containerApps@2025-01-01' existing = if (webExists) {
  name: webName
}

resource existingWorker 'Microsoft.App/containerApps@2025-01-01' existing = if (workerExists) {
  name: workerName
}

resource existingMigrationJob 'Microsoft.App/jobs@2025-01-01' existing = if (migrateExists) {
  name: migrationJobName
}

var webImage = webExists ? existingWeb.properties.template.containers[0].image : placeholderImage
var workerImage = workerExists ? existingWorker.properties.template.containers[0].image : placeholderImage
var migrateImage = migrateExists ? existingMigrationJob.properties.template.containers[0].image : placeholderImage

resource appEnvironment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    zoneRedundant: false
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: appEnvironment
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource webApp 'Microsoft.App/containerApps@2025-01-01' = if (deployApps) {
  name: webName
  location: location
  tags: union(tags, { 'azd-service-name': 'web' })
  identity: identity
  properties: {
    managedEnvironmentId: appEnvironment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: webPort
        transport: 'auto'
        allowInsecure: false
      }
      registries: registries
    }
    template: {
      terminationGracePeriodSeconds: webGracePeriod
      containers: [
        {
          name: 'web'
          image: webImage
          env: [for setting in items(webSettings): { name: setting.key, value: setting.value }]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          probes: [
            {
              type: 'Startup'
              httpGet: {
                path: '/healthz'
                port: webPort
              }
              periodSeconds: 2
              failureThreshold: 30
              timeoutSeconds: 2
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: webPort
              }
              periodSeconds: 10
              failureThreshold: 3
              timeoutSeconds: 5
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: webPort
              }
              periodSeconds: 10
              failureThreshold: 3
              timeoutSeconds: 10
            }
          ]
        }
      ]
      scale: {
        // Until azd has deployed the real image nothing runs: the placeholder would fail the probes.
        minReplicas: webImage == placeholderImage ? 0 : webMinReplicas
        maxReplicas: webMaxReplicas
        rules: [
          {
            name: 'http-requests'
            http: {
              metadata: {
                concurrentRequests: '40'
              }
            }
          }
        ]
      }
    }
  }
}

resource workerApp 'Microsoft.App/containerApps@2025-01-01' = if (deployApps) {
  name: workerName
  location: location
  tags: union(tags, { 'azd-service-name': 'worker' })
  identity: identity
  properties: {
    managedEnvironmentId: appEnvironment.id
    configuration: {
      activeRevisionsMode: 'Single'
      registries: registries
    }
    template: {
      terminationGracePeriodSeconds: workerGracePeriod
      containers: [
        {
          name: 'worker'
          image: workerImage
          env: [for setting in items(workerSettings): { name: setting.key, value: setting.value }]
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
        }
      ]
      scale: {
        minReplicas: workerImage == placeholderImage ? 0 : workerMinReplicas
        maxReplicas: workerMaxReplicas
        rules: [
          {
            name: 'thumbnail-queue'
            azureQueue: {
              accountName: storageAccountName
              queueName: taskQueue
              queueLength: 20
              identity: identityId
            }
          }
        ]
      }
    }
  }
}

resource migrationJob 'Microsoft.App/jobs@2025-01-01' = {
  name: migrationJobName
  location: location
  tags: union(tags, { 'azd-service-name': 'migrate' })
  identity: identity
  properties: {
    environmentId: appEnvironment.id
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 600
      // A failed migration is a finding, not a hiccup: it stops the deploy instead of being retried.
      replicaRetryLimit: 0
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
      registries: registries
    }
    template: {
      containers: [
        {
          name: 'migrate'
          image: migrateImage
          command: ['migrate']
          env: [for setting in items(migrateSettings): { name: setting.key, value: setting.value }]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
    }
  }
}

output environmentId string = appEnvironment.id
output webUri string = deployApps ? 'https://${webApp.properties.configuration.ingress.fqdn}' : ''
output migrationJobName string = migrationJob.name
// The web image the job runs: App Service's main container runs the same one.
output migrateImage string = migrateImage
