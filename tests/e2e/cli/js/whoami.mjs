// Who am I, as the AWS SDK for JavaScript v3 sees it on an EC2 instance: credentials from the instance
// metadata service (AWS_EC2_METADATA_SERVICE_ENDPOINT), API endpoint and region from the environment.
// Prints one JSON line; run under `rolecall ec2 exec` by tests/e2e/test_ec2_exec.py.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromInstanceMetadata } from "@aws-sdk/credential-providers";

const provider = fromInstanceMetadata({ timeout: 2000, maxRetries: 0 });
const credentials = await provider();
const viaProvider = await new STSClient({ credentials: provider }).send(new GetCallerIdentityCommand({}));
// No credentials given: the SDK's default chain must end at the same metadata endpoint.
const viaDefaultChain = await new STSClient({}).send(new GetCallerIdentityCommand({}));
console.log(
  JSON.stringify({
    accessKeyId: credentials.accessKeyId,
    expiration: credentials.expiration?.toISOString(),
    providerArn: viaProvider.Arn,
    defaultChainArn: viaDefaultChain.Arn,
  }),
);
