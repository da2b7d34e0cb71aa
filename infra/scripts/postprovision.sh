#!/usr/bin/env bash
# azd postprovision hook: make sure the Keybrake operator root token exists in Key Vault.
#
# - Generates a random 256-bit token into the secret `keybrake-root-token` ONLY if the secret does
#   not exist yet; an existing token is never read, printed or replaced.
# - Never prints the token. It tells you how to read it.
#
# Inputs (azd passes its environment values to hooks):
#   AZURE_KEY_VAULT_NAME             output of infra/bicep/main.bicep (required)
#   KEYBRAKE_GRANT_DEPLOYER_ACCESS   "true" if the deploying user was given Key Vault Secrets
#                                    Officer by this provisioning run (new role assignments take a
#                                    few minutes to apply, so permission errors are retried)
#   KEYBRAKE_SKIP_ROOT_TOKEN         "true" to skip this step (e.g. a pipeline identity without
#                                    Key Vault data access; create the token separately)
#
# Needs the Azure CLI signed in (`az login`) as a principal with Key Vault Secrets Officer (or
# another role that can get and set secrets) on the vault.
set -euo pipefail

secret_name="keybrake-root-token"
vault="${AZURE_KEY_VAULT_NAME:-}"

if [[ "${KEYBRAKE_SKIP_ROOT_TOKEN:-false}" == "true" ]]; then
    echo "postprovision: KEYBRAKE_SKIP_ROOT_TOKEN=true, not checking the root token."
    exit 0
fi

if [[ -z "$vault" ]]; then
    echo "postprovision: AZURE_KEY_VAULT_NAME is not set. Run through azd (azd up / azd provision)," >&2
    echo "or export AZURE_KEY_VAULT_NAME=<vault name> and run this script again." >&2
    exit 1
fi

if ! command -v az >/dev/null 2>&1; then
    echo "postprovision: the Azure CLI (az) is required to check the root token in Key Vault." >&2
    exit 1
fi

permission_help() {
    cat >&2 <<HELP
postprovision: no permission to get/set secrets in Key Vault '$vault'.
  The app's identity has read access only; people get data access only on request. Either:
    - azd env set KEYBRAKE_GRANT_DEPLOYER_ACCESS true && azd provision
      (gives you Key Vault Secrets Officer, Storage Table Data Contributor, Storage Blob Data Owner), or
    - ask a Key Vault administrator to run: AZURE_KEY_VAULT_NAME=$vault infra/scripts/postprovision.sh
  Check that 'az account show' is the same account as 'azd auth login'.
HELP
}

token_file=""
cleanup() {
    if [[ -n "$token_file" ]]; then
        rm -f "$token_file"
    fi
}
trap cleanup EXIT

# Creates the secret from a 0600 temp file, so the token never appears in a process's arguments.
create_token() {
    token_file="$(mktemp)"
    chmod 600 "$token_file"
    # 32 random bytes = 256 bits, as 64 lowercase hex characters.
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$token_file"
    az keyvault secret set \
        --vault-name "$vault" \
        --name "$secret_name" \
        --file "$token_file" \
        --encoding utf-8 \
        --content-type "text/plain" \
        --tags "created-by=azd-postprovision" \
        --output none
}

max_attempts=1
if [[ "${KEYBRAKE_GRANT_DEPLOYER_ACCESS:-false}" == "true" ]]; then
    max_attempts=10 # role assignments made by this provisioning run can take minutes to apply
fi

attempt=1
while true; do
    if output="$(az keyvault secret show --vault-name "$vault" --name "$secret_name" --query id --output tsv 2>&1)"; then
        echo "postprovision: '$secret_name' already exists in Key Vault '$vault'; left unchanged."
        break
    fi

    if grep -q "SecretNotFound" <<<"$output"; then
        create_token
        echo "postprovision: generated a new operator root token into '$secret_name' in Key Vault '$vault'."
        break
    fi

    if grep -qiE "Forbidden|not authorized|does not have secrets" <<<"$output"; then
        if ((attempt < max_attempts)); then
            echo "postprovision: Key Vault access not effective yet (attempt $attempt/$max_attempts); retrying in 20 s..."
            attempt=$((attempt + 1))
            sleep 20
            continue
        fi
        permission_help
        exit 1
    fi

    echo "postprovision: could not read '$secret_name' from Key Vault '$vault':" >&2
    echo "$output" >&2
    exit 1
done

cat <<INFO

Read the operator root token (treat it like a password; it sees every tenant):
  az keyvault secret show --vault-name $vault --name $secret_name --query value --output tsv
INFO
