// curator-x-discovery service registry peer. Usage:
//   CuratorDiscovery --connect CS --path BASE --id ID --service NAME [--session-timeout-ms MS]
// Starts a ServiceDiscovery<Details> on BASE (Curator's default JsonInstanceSerializer), a
// ServiceCache and a round-robin ServiceProvider of the service NAME, then prints READY <id>.
// Commands on stdin, one per line, each answered by one line:
//   register INSTANCE ADDRESS PORT ZONE WEIGHT -> REGISTERED <id> INSTANCE (payload Details{zone, weight},
//                                                 uriSpec {scheme}://{address}:{port})
//   unregister INSTANCE                        -> UNREGISTERED <id> INSTANCE
//   query | cache | provider                   -> INSTANCES <id> <source> [ENTRY ...]: queryForInstances,
//                                                 the ServiceCache, the provider's getAllInstances
//   get                                        -> GOT <id> ENTRY|- (the provider's getInstance)
//   names                                      -> NAMES <id> name,name,...
// ENTRY is INSTANCE@ADDRESS:PORT/ZONE/WEIGHT/URI, entries sorted by instance id. A command that
// throws prints FAILED <id> <command> <exception> and the peer carries on. `quit` (or end of
// input) closes the CuratorFramework, so its instances go with its session at once.

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceProvider;
import org.apache.curator.x.discovery.UriSpec;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.strategies.RoundRobinStrategy;

public final class CuratorDiscovery {
    /** The payload, a Jackson bean: written with "@class": "CuratorDiscovery$Details". */
    public static final class Details {
        public String zone;
        public int weight;

        public Details() { }

        Details(String zone, int weight) {
            this.zone = zone;
            this.weight = weight;
        }
    }

    public static void main(String[] args) {
        PeerSupport.main("CuratorDiscovery", args, CuratorDiscovery::run);
    }

    private static void run(PeerSupport p) throws Exception {
        String service = p.require("service");
        CuratorFramework client = p.newClient();
        p.onQuit(client::close);
        ServiceDiscovery<Details> discovery = ServiceDiscoveryBuilder.builder(Details.class)
                .client(client)
                .basePath(p.require("path"))
                .serializer(new JsonInstanceSerializer<>(Details.class))
                .build();
        discovery.start();
        ServiceCache<Details> cache = discovery.serviceCacheBuilder().name(service).build();
        cache.start();
        ServiceProvider<Details> provider = discovery.serviceProviderBuilder()
                .serviceName(service)
                .providerStrategy(new RoundRobinStrategy<>())
                .build();
        provider.start();
        p.readStdin();
        PeerSupport.out("READY " + p.id);
        while (true) {
            String command = p.commands.take();
            String[] w = command.split(" ");
            try {
                switch (w[0]) {
                    case "register": {
                        ServiceInstance<Details> instance = ServiceInstance.<Details>builder()
                                .name(service)
                                .id(w[1])
                                .address(w[2])
                                .port(Integer.parseInt(w[3]))
                                .payload(new Details(w[4], Integer.parseInt(w[5])))
                                .uriSpec(new UriSpec("{scheme}://{address}:{port}"))
                                .build();
                        discovery.registerService(instance);
                        PeerSupport.out("REGISTERED " + p.id + " " + w[1]);
                        break;
                    }
                    case "unregister": {
                        ServiceInstance<Details> instance = discovery.queryForInstance(service, w[1]);
                        if (instance != null) {
                            discovery.unregisterService(instance);
                        }
                        PeerSupport.out("UNREGISTERED " + p.id + " " + w[1]);
                        break;
                    }
                    case "query":
                        PeerSupport.out(instances(p, "query", discovery.queryForInstances(service)));
                        break;
                    case "cache":
                        PeerSupport.out(instances(p, "cache", cache.getInstances()));
                        break;
                    case "provider":
                        PeerSupport.out(instances(p, "provider", provider.getAllInstances()));
                        break;
                    case "get": {
                        ServiceInstance<Details> got = provider.getInstance();
                        PeerSupport.out("GOT " + p.id + " " + (got == null ? "-" : entry(got)));
                        break;
                    }
                    case "names":
                        PeerSupport.out("NAMES " + p.id + " " + String.join(",", discovery.queryForNames()));
                        break;
                    default:
                        throw new IllegalArgumentException("unknown command " + command);
                }
            } catch (Exception e) {
                e.printStackTrace();
                PeerSupport.out("FAILED " + p.id + " " + w[0] + " " + e.toString().replace('\n', ' '));
            }
        }
    }

    private static String instances(PeerSupport p, String source, Collection<ServiceInstance<Details>> found) {
        List<String> entries = new ArrayList<>();
        for (ServiceInstance<Details> i : found) {
            entries.add(entry(i));
        }
        entries.sort(null);
        StringBuilder line = new StringBuilder("INSTANCES " + p.id + " " + source);
        for (String e : entries) {
            line.append(' ').append(e);
        }
        return line.toString();
    }

    private static String entry(ServiceInstance<Details> i) {
        // The cast proves Jackson built our payload class, not a Map.
        Details d = i.getPayload();
        String payload = d == null ? "-/-" : d.zone + "/" + d.weight;
        return i.getId() + "@" + i.getAddress() + ":" + i.getPort() + "/" + payload + "/" + i.buildUriSpec();
    }
}
