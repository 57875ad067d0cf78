// A real GraphQL client in its default configuration, run by tests/frontend.rs:
// `node urql.mjs <endpoint> <token> [search]` (or NUSA_ENDPOINT / NUSA_TOKEN).
// Prints {"data": ..., "error": ...} as JSON on stdout.
//
// @urql/core 6 defaults `preferGetMethod` to "within-url-limit": a query whose URL stays
// under 2048 characters is sent as GET with URL parameters; mutations use POST.
import { Client, cacheExchange, fetchExchange, gql } from "@urql/core";

const endpoint = process.argv[2] ?? process.env.NUSA_ENDPOINT;
const token = process.argv[3] ?? process.env.NUSA_TOKEN;
const search = process.argv[4] ?? "Kas";
if (!endpoint || !token) {
  console.error("usage: node urql.mjs <endpoint> <token> [search]");
  process.exit(2);
}

const client = new Client({
  url: endpoint,
  exchanges: [cacheExchange, fetchExchange],
  fetchOptions: { headers: { authorization: `Bearer ${token}` } },
});

const Accounts = gql`
  query Accounts($first: Int, $search: String) {
    accounts(first: $first, filter: { search: $search }) {
      totalCount
      nodes { code name }
    }
  }
`;

const result = await client.query(Accounts, { first: 2, search }).toPromise();
console.log(
  JSON.stringify({
    data: result.data ?? null,
    error: result.error ? { message: result.error.message, graphQLErrors: result.error.graphQLErrors } : null,
    preferGetMethod: result.operation.context.preferGetMethod,
  }),
);
