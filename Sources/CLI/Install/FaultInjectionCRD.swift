/// The CustomResourceDefinition of `FaultInjection` (`policy.swiftlet.io/v1alpha1`), our one CRD so far. Its
/// schema refuses at `kubectl apply` what the controller's parser would refuse, so a bad object is caught where
/// the user types it.
enum FaultInjectionCRD {
    static let document = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: faultinjections.policy.swiftlet.io
          labels:
            app.kubernetes.io/part-of: swiftlet
        spec:
          group: policy.swiftlet.io
          scope: Namespaced
          names:
            kind: FaultInjection
            listKind: FaultInjectionList
            plural: faultinjections
            singular: faultinjection
            categories: [swiftlet]
          versions:
          - name: v1alpha1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                description: Faults a route rule injects when an ExtensionRef filter names this object.
                type: object
                required: [spec]
                properties:
                  apiVersion:
                    type: string
                  kind:
                    type: string
                  metadata:
                    type: object
                  spec:
                    type: object
                    properties:
                      abort:
                        description: Answer a share of requests at once, with an HTTP status (and a gRPC status for gRPC calls).
                        type: object
                        required: [percent]
                        properties:
                          percent:
                            type: number
                            minimum: 0
                            maximum: 100
                          httpStatus:
                            type: integer
                            minimum: 200
                            maximum: 599
                          grpcStatus:
                            type: integer
                            minimum: 1
                            maximum: 16
                      delay:
                        description: Hold a share of requests for a while before they go on.
                        type: object
                        required: [percent, duration]
                        properties:
                          percent:
                            type: number
                            minimum: 0
                            maximum: 100
                          duration:
                            type: string
                            pattern: '^([0-9]{1,5}(h|m|s|ms)){1,4}$'

        """
}
