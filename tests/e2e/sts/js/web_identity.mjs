// Who am I, as the AWS SDK for JavaScript v3's default credential chain sees it with a web identity:
// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME), API endpoint and region from the
// environment, no keys anywhere. Prints one JSON line; run by tests/e2e/sts/test_federation.py.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

const client = new STSClient({});
const me = await client.send(new GetCallerIdentityCommand({}));
const credentials = await client.config.credentials();
console.log(JSON.stringify({ arn: me.Arn, account: me.Account, accessKeyId: credentials.accessKeyId }));
