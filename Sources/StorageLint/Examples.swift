/// The smallest inputs that do and do not trigger each rule. Tests lint every one; docs/LINT.md shows them.
enum Examples {
    static func taskDefinition(
        compatibilities: String = "EC2", os: String = "LINUX", image: String = "nginx:1.27", mount: String = #""sourceVolume": "content", "containerPath": "/usr/share/nginx/html""#,
        environment: String? = nil, volumes: String
    ) -> String {
        let env = environment.map { ",\n      \"environment\": [\($0)]" } ?? ""
        return """
            {
              "family": "web",
              "requiresCompatibilities": ["\(compatibilities)"],
              "runtimePlatform": {"operatingSystemFamily": "\(os)"},
              "containerDefinitions": [{
                "name": "app",
                "image": "\(image)",
                "mountPoints": [{\(mount)}]\(env)
              }],
              "volumes": [
                \(volumes)
              ]
            }
            """
    }

    static let efsIAMWithoutEncryption = taskDefinition(volumes: #"""
        {"name": "content", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "authorizationConfig": {"iam": "ENABLED"}}}
        """#)
    static let efsIAMWithEncryption = taskDefinition(volumes: #"""
        {"name": "content", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "transitEncryption": "ENABLED", "authorizationConfig": {"iam": "ENABLED"}}}
        """#)
    static let efsTemplateAccessPointWithoutEncryption = """
        AWSTemplateFormatVersion: "2010-09-09"
        Resources:
          Content:
            Type: AWS::EFS::FileSystem
          ContentAccessPoint:
            Type: AWS::EFS::AccessPoint
            Properties:
              FileSystemId: !Ref Content
          Web:
            Type: AWS::ECS::TaskDefinition
            Properties:
              RequiresCompatibilities: [FARGATE]
              ContainerDefinitions:
                - Name: web
                  Image: !Sub "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/web:1"
                  MountPoints:
                    - {SourceVolume: content, ContainerPath: /srv/content}
              Volumes:
                - Name: content
                  EFSVolumeConfiguration:
                    FilesystemId: !Ref Content
                    TransitEncryption: DISABLED
                    AuthorizationConfig:
                      AccessPointId: !GetAtt ContentAccessPoint.AccessPointId
        """
    static let accessPointWithRootDirectory = taskDefinition(volumes: #"""
        {"name": "content", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "rootDirectory": "/content", "transitEncryption": "ENABLED", "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0"}}}
        """#)
    static let accessPointWithoutRootDirectory = taskDefinition(volumes: #"""
        {"name": "content", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "rootDirectory": "/", "transitEncryption": "ENABLED", "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0"}}}
        """#)
    static let fargateHost = taskDefinition(compatibilities: "FARGATE", volumes: #"""
        {"name": "content", "host": {"sourcePath": "/mnt/content"}}
        """#)
    static let ec2Host = taskDefinition(volumes: #"""
        {"name": "content", "host": {"sourcePath": "/mnt/content"}}
        """#)
    static let fargateBindMount = taskDefinition(compatibilities: "FARGATE", volumes: #"""
        {"name": "content"}
        """#)
    static let fargateDocker = taskDefinition(compatibilities: "FARGATE", volumes: #"""
        {"name": "content", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}
        """#)
    static let ec2Docker = taskDefinition(volumes: #"""
        {"name": "content", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}
        """#)
    static let fsxVolume = #"""
        {"name": "content", "fsxWindowsFileServerVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "rootDirectory": "share", "authorizationConfig": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:111122223333:secret:fsx", "domain": "corp.example.com"}}}
        """#
    static let windowsMount = #""sourceVolume": "content", "containerPath": "C:\\content""#
    static let fargateFSx = taskDefinition(
        compatibilities: "FARGATE", os: "WINDOWS_SERVER_2019_CORE", image: "mcr.microsoft.com/windows/servercore/iis", mount: windowsMount,
        volumes: fsxVolume)
    static let ec2WindowsFSx = taskDefinition(
        os: "WINDOWS_SERVER_2019_CORE", image: "mcr.microsoft.com/windows/servercore/iis", mount: windowsMount, volumes: fsxVolume)
    static let linuxFSx = taskDefinition(volumes: fsxVolume)
    static let efsVolume = #"""
        {"name": "content", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "transitEncryption": "ENABLED"}}
        """#
    static let windowsEFS = taskDefinition(
        os: "WINDOWS_SERVER_2019_FULL", image: "mcr.microsoft.com/windows/servercore/iis", mount: windowsMount, volumes: efsVolume)
    static let linuxEFS = taskDefinition(volumes: efsVolume)
    static let misspeltSourceVolume = taskDefinition(
        mount: #""sourceVolume": "contents", "containerPath": "/usr/share/nginx/html""#, volumes: efsVolume)
    static let unmountedVolume = taskDefinition(volumes: efsVolume + #"""
        ,
            {"name": "cache", "host": {"sourcePath": "/var/cache/web"}}
        """#)
    static let ebsTemplateWithoutService = """
        Resources:
          Database:
            Type: AWS::ECS::TaskDefinition
            Properties:
              RequiresCompatibilities: [FARGATE]
              ContainerDefinitions:
                - Name: db
                  Image: postgres:16
                  MountPoints: [{SourceVolume: pgdata, ContainerPath: /var/lib/postgresql/data}]
              Volumes:
                - Name: pgdata
                  ConfiguredAtLaunch: true
        """
    static func ebsService(desiredCount: Int) -> String {
        """
        Resources:
          Database:
            Type: AWS::ECS::TaskDefinition
            Properties:
              RequiresCompatibilities: [FARGATE]
              ContainerDefinitions:
                - Name: db
                  Image: postgres:16
                  MountPoints: [{SourceVolume: pgdata, ContainerPath: /var/lib/postgresql/data}]
              Volumes:
                - Name: pgdata
                  ConfiguredAtLaunch: true
          DatabaseService:
            Type: AWS::ECS::Service
            Properties:
              Cluster: !Ref Cluster
              TaskDefinition: !Ref Database
              DesiredCount: \(desiredCount)
              LaunchType: FARGATE
              VolumeConfigurations:
                - Name: pgdata
                  ManagedEBSVolume:
                    RoleArn: !GetAtt EcsInfrastructureRole.Arn
                    SizeInGiB: 100
                    VolumeType: gp3
        """
    }
    static let ebsTemplateWithService = ebsService(desiredCount: 1)
    static let ebsServiceOfThree = ebsService(desiredCount: 3)
    static let postgresOnEFS = taskDefinition(
        image: "postgres:16", mount: #""sourceVolume": "pgdata", "containerPath": "/var/lib/postgresql/data""#,
        volumes: #"{"name": "pgdata", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "transitEncryption": "ENABLED"}}"#)
    static let postgresOnEBS = taskDefinition(
        image: "postgres:16", mount: #""sourceVolume": "pgdata", "containerPath": "/var/lib/postgresql/data""#,
        volumes: #"{"name": "pgdata", "configuredAtLaunch": true}"#)
    static let sqliteOnEFS = taskDefinition(
        image: "ghcr.io/example/notes:2", mount: #""sourceVolume": "data", "containerPath": "/data""#,
        environment: #"{"name": "DATABASE_URL", "value": "sqlite:////data/notes.db"}"#,
        volumes: #"{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0", "transitEncryption": "ENABLED"}}"#)
    static let sqliteOnEBS = taskDefinition(
        image: "ghcr.io/example/notes:2", mount: #""sourceVolume": "data", "containerPath": "/data""#,
        environment: #"{"name": "DATABASE_URL", "value": "sqlite:////data/notes.db"}"#,
        volumes: #"{"name": "data", "configuredAtLaunch": true}"#)
    static func multiAZTemplate(fileSystem: String, volume: String, os: String = "LINUX", path: String = "/srv/shared") -> String {
        """
        Resources:
        \(fileSystem)
          App:
            Type: AWS::ECS::TaskDefinition
            Properties:
              RequiresCompatibilities: [EC2]
              RuntimePlatform: {OperatingSystemFamily: \(os)}
              ContainerDefinitions:
                - Name: app
                  Image: example/app:1
                  MountPoints: [{SourceVolume: shared, ContainerPath: '\(path)'}]
              Volumes:
                - Name: shared
        \(volume)
          AppService:
            Type: AWS::ECS::Service
            Properties:
              TaskDefinition: !Ref App
              DesiredCount: 4
              NetworkConfiguration:
                AwsvpcConfiguration:
                  Subnets: [!Ref SubnetA, !Ref SubnetB, !Ref SubnetC]
        """
    }
    static let efsTemplateVolume = """
                  EFSVolumeConfiguration:
                    FilesystemId: !Ref Shared
                    TransitEncryption: ENABLED
        """
    static let oneZoneService = multiAZTemplate(fileSystem: """
          Shared:
            Type: AWS::EFS::FileSystem
            Properties:
              AvailabilityZoneName: us-east-1a
              Encrypted: true
        """, volume: efsTemplateVolume)
    static let regionalService = multiAZTemplate(fileSystem: """
          Shared:
            Type: AWS::EFS::FileSystem
            Properties:
              Encrypted: true
        """, volume: efsTemplateVolume)
    static func fsxTemplate(_ deployment: String) -> String {
        multiAZTemplate(fileSystem: """
              Shared:
                Type: AWS::FSx::FileSystem
                Properties:
                  FileSystemType: WINDOWS
                  StorageCapacity: 32
                  SubnetIds: [!Ref SubnetA]
                  WindowsConfiguration:
                    DeploymentType: \(deployment)
                    ThroughputCapacity: 32
                    ActiveDirectoryId: !Ref Directory
            """, volume: """
                          FSxWindowsFileServerVolumeConfiguration:
                            FileSystemId: !Ref Shared
                            RootDirectory: share
                            AuthorizationConfig:
                              CredentialsParameter: !Ref FsxCredentials
                              Domain: corp.example.com
                """, os: "WINDOWS_SERVER_2019_CORE", path: "C:\\shared")
    }
    static let singleAZFSxService = fsxTemplate("SINGLE_AZ_2")
    static let multiAZFSxService = fsxTemplate("MULTI_AZ_1")
    static let referenceWritable = taskDefinition(
        mount: #""sourceVolume": "reference-data", "containerPath": "/srv/reference""#,
        volumes: #"{"name": "reference-data", "configuredAtLaunch": true}"#)
    static let referenceReadOnly = taskDefinition(
        mount: #""sourceVolume": "reference-data", "containerPath": "/srv/reference", "readOnly": true"#,
        volumes: #"{"name": "reference-data", "configuredAtLaunch": true}"#)
    static let databaseReadOnly = taskDefinition(
        image: "postgres:16", mount: #""sourceVolume": "pgdata", "containerPath": "/var/lib/postgresql/data", "readOnly": true"#,
        volumes: #"{"name": "pgdata", "configuredAtLaunch": true}"#)
    static let twoAtLaunch = taskDefinition(
        image: "postgres:16", mount: #""sourceVolume": "pgdata", "containerPath": "/var/lib/postgresql/data""#,
        volumes: #"{"name": "pgdata", "configuredAtLaunch": true}, {"name": "wal", "configuredAtLaunch": true}"#)
    static func markedTemplate(_ marker: String, volume: String, readOnly: Bool) -> String {
        """
        Resources:
          Reports:
            Type: AWS::ECS::TaskDefinition
            Metadata:
              Berth:
                \(marker): [\(volume)]
            Properties:
              ContainerDefinitions:
                - Name: reports
                  Image: example/reports:3
                  MountPoints:
                    - {SourceVolume: \(volume), ContainerPath: /opt/\(volume), ReadOnly: \(readOnly)}
              Volumes:
                - Name: \(volume)
                  EFSVolumeConfiguration: {FilesystemId: fs-0123456789abcdef0, TransitEncryption: ENABLED}
        """
    }
    static let markedReferenceWritable = markedTemplate("ReferenceData", volume: "tariffs", readOnly: false)
    static let markedReferenceReadOnly = markedTemplate("ReferenceData", volume: "tariffs", readOnly: true)
    static let markedWrittenReadOnly = markedTemplate("Writes", volume: "uploads", readOnly: true)
    static let markedWrittenWritable = markedTemplate("Writes", volume: "uploads", readOnly: false)
}
